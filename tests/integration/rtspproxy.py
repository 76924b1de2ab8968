"""A TCP proxy in front of a test camera that can doctor what the camera says, for the camera
client's tests: strip sprop-parameter-sets from the SDP (a camera that sends SPS/PPS only in band),
inject bytes that are neither RTSP nor an interleaved frame (a malformed stream), drop the
first interleaved frames of each connection (joining mid-GOP, without the parameter sets), or
corrupt the payload of some video RTP packets (a hostile camera's broken NAL units: RTP headers
and the NAL/FU headers kept, so they reach the decoder).

    proxy = RtspProxy(cam.port, strip_sprop=True).start()
    proxy.url, proxy.connections, proxy.stripped, proxy.injected

Responses and '$' frames are forwarded whole, so doctored bytes land between two of them."""
import re
import socket
import threading
import time

GARBAGE = bytes(range(0, 48)) + b"\r\n\r\n"



def _shutdown(*socks):
    """Ends both directions of each socket, so the other pump returns too."""
    for s in socks:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

class RtspProxy:
    def __init__(self, upstream_port, path="cam", strip_sprop=False, garbage_after=None,
                 skip_first=0.0, corrupt=0.0):
        self.upstream_port = upstream_port
        self.path = path
        self.strip_sprop = strip_sprop
        self.garbage_after = garbage_after
        self.skip_first = skip_first
        self.corrupt = corrupt  # the share of video RTP packets with bytes flipped
        self.corrupted = 0
        self.rng = __import__("random").Random(1234)
        self.skipped = 0
        self.connections = 0
        self.stripped = 0
        self.injected = 0
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.port = self.srv.getsockname()[1]
        self.closing = False
        self.socks = []

    @property
    def url(self):
        return f"rtsp://127.0.0.1:{self.port}/{self.path}"

    def start(self):
        self.srv.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def stop(self):
        self.closing = True
        for s in [self.srv] + self.socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def _accept(self):
        while not self.closing:
            try:
                down, _ = self.srv.accept()
            except OSError:
                return
            try:
                up = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
            except OSError:
                down.close()
                continue
            up.settimeout(None)
            self.connections += 1
            self.socks += [down, up]
            threading.Thread(target=self._pipe, args=(down, up), daemon=True).start()
            threading.Thread(target=self._from_camera, args=(up, down), daemon=True).start()

    @staticmethod
    def _pipe(src, dst):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        _shutdown(src, dst)

    def _from_camera(self, up, down):
        buf, first_frame, injected = b"", None, False
        try:
            while True:
                data = up.recv(65536)
                if not data:
                    break
                buf += data
                while buf:
                    if buf[:1] == b"$":
                        if len(buf) < 4:
                            break
                        n = 4 + int.from_bytes(buf[2:4], "big")
                        if len(buf) < n:
                            break
                        frame, buf = buf[:n], buf[n:]
                        first_frame = first_frame or time.monotonic()
                        if time.monotonic() - first_frame < self.skip_first:
                            self.skipped += 1
                            continue
                        if self.corrupt and frame[1] == 0 and len(frame) > 24 and \
                                self.rng.random() < self.corrupt:
                            body = bytearray(frame)
                            for _ in range(1 + len(body) // 64):  # 4 + 12 RTP + 3 NAL/FU kept
                                body[self.rng.randrange(19, len(body))] ^= self.rng.randrange(1, 256)
                            frame = bytes(body)
                            self.corrupted += 1
                        if (self.garbage_after is not None and not injected
                                and time.monotonic() - first_frame >= self.garbage_after):
                            down.sendall(GARBAGE)
                            injected = True
                            self.injected += 1
                        down.sendall(frame)
                        continue
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = buf[:end + 4]
                    m = re.search(rb"Content-Length:\s*(\d+)", head, re.I)
                    length = int(m.group(1)) if m else 0
                    if len(buf) < end + 4 + length:
                        break
                    body, buf = buf[end + 4:end + 4 + length], buf[end + 4 + length:]
                    if self.strip_sprop and b"sprop-parameter-sets=" in body:
                        body = re.sub(rb"sprop-parameter-sets=[^;\r\n]*;?", b"", body)
                        head = re.sub(rb"Content-Length:\s*\d+", b"Content-Length: %d" % len(body),
                                      head, flags=re.I)
                        self.stripped += 1
                    down.sendall(head + body)
        except OSError:
            pass
        _shutdown(up, down)
