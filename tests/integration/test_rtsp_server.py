"""camvisor-rtsp protocol behaviour: UDP transport, authentication, session methods, and a
client that stops reading."""
import re
import socket
import struct
import time

from conftest import TESTSRC, ffmpeg_frames, ffprobe, wait_for
from gstclient import Watcher


class RawClient:
    """A minimal RTSP client on a plain socket, to send exactly what a test needs."""

    def __init__(self, port, rcvbuf=None):
        self.s = socket.socket()
        if rcvbuf:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10)
        self.s.connect(("127.0.0.1", port))
        self.buf = b""
        self.cseq = 0

    def request(self, method, url, headers=""):
        self.cseq += 1
        self.s.sendall(f"{method} {url} RTSP/1.0\r\nCSeq: {self.cseq}\r\n{headers}\r\n".encode())
        return self.response()

    def response(self):
        while True:
            # Skip interleaved data that precedes the response.
            while self.buf[:1] == b"$" and len(self.buf) >= 4:
                n = int.from_bytes(self.buf[2:4], "big")
                if len(self.buf) < 4 + n:
                    break
                self.buf = self.buf[4 + n:]
            if self.buf[:1] != b"$" and b"\r\n\r\n" in self.buf:
                head, rest = self.buf.split(b"\r\n\r\n", 1)
                m = re.search(rb"Content-Length: *(\d+)", head, re.I)
                n = int(m.group(1)) if m else 0
                if len(rest) >= n:
                    self.buf = rest[n:]
                    return head.decode() + "\r\n\r\n" + rest[:n].decode(errors="replace")
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def interleaved(self):
        """The next interleaved frame after PLAY: (channel, payload)."""
        while len(self.buf) < 4 or len(self.buf) < 4 + int.from_bytes(self.buf[2:4], "big"):
            chunk = self.s.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        assert self.buf[:1] == b"$", self.buf[:64]
        n = int.from_bytes(self.buf[2:4], "big")
        frame, self.buf = (self.buf[1], self.buf[4:4 + n]), self.buf[4 + n:]
        return frame

    def close(self):
        self.s.close()


def test_udp_transport(camvisor):
    cv = camvisor({"demo": TESTSRC})
    streams = ffprobe(cv.url("demo"), transport="udp")
    assert streams[0]["codec_name"] == "h264"
    took, err = ffmpeg_frames(cv.url("demo"), 50, transport="udp")
    assert took < 15


def test_session_methods(camvisor):
    cv = camvisor({"demo": TESTSRC})
    c = RawClient(cv.rtsp_port)
    url = cv.url("demo")
    r = c.request("OPTIONS", url)
    assert r.startswith("RTSP/1.0 200") and "DESCRIBE" in r
    r = c.request("DESCRIBE", url, "Accept: application/sdp\r\n")
    assert r.startswith("RTSP/1.0 200"), r
    assert "m=video" in r and "H264/90000" in r and "sprop-parameter-sets" in r
    # A session that is not set up yet, and a wrong session id.
    assert c.request("PLAY", url, "Session: 1234\r\n").startswith("RTSP/1.0 454")
    r = c.request("SETUP", url + "/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
    assert r.startswith("RTSP/1.0 200"), r
    session = re.search(r"Session: *([^;\r]+)", r).group(1)
    r = c.request("PLAY", url, f"Session: {session}\r\n")
    assert r.startswith("RTSP/1.0 200") and "RTP-Info" in r, r
    r = c.request("GET_PARAMETER", url, f"Session: {session}\r\n")
    assert r.startswith("RTSP/1.0 200"), r
    r = c.request("PAUSE", url, f"Session: {session}\r\n")
    assert r.startswith("RTSP/1.0 200"), r
    r = c.request("TEARDOWN", url, f"Session: {session}\r\n")
    assert r.startswith("RTSP/1.0 200"), r
    c.close()
    r = RawClient(cv.rtsp_port).request("FLY", url)
    assert r.startswith("RTSP/1.0 501"), r


def test_sender_reports_tie_rtp_time_to_wallclock(camvisor):
    """Each playing track gets an RTCP Sender Report right after PLAY and then every 5 s: the
    SSRC of its RTP packets, the wallclock of now, and an RTP timestamp next to the packets'."""
    cv = camvisor({"demo": TESTSRC})
    c = RawClient(cv.rtsp_port)
    url = cv.url("demo")
    assert c.request("DESCRIBE", url).startswith("RTSP/1.0 200")
    r = c.request("SETUP", url + "/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
    session = re.search(r"Session: *([^;\r]+)", r).group(1)
    assert c.request("PLAY", url, f"Session: {session}\r\n").startswith("RTSP/1.0 200")
    reports, rtp, deadline = [], None, time.monotonic() + 15
    while len(reports) < 2 and time.monotonic() < deadline:
        ch, pkt = c.interleaved()
        if ch == 0:
            rtp = struct.unpack("!II", pkt[4:12])  # timestamp, SSRC
        elif ch == 1 and pkt[1] == 200:
            ssrc, ntp_s, ntp_f, ts, count, octets = struct.unpack("!6I", pkt[4:28])
            reports.append((time.time(), time.monotonic(), ssrc, ntp_s + ntp_f / 2**32 - 2208988800,
                            ts, count, rtp))
    c.close()
    assert len(reports) == 2, reports
    for wall, _, ssrc, ntp, ts, count, last in reports:
        assert last is not None and ssrc == last[1]
        assert abs(ntp - wall) < 1.0
        # Within half a second (90 kHz clock) of the newest RTP packet read before it.
        assert abs((ts - last[0] + 2**31) % 2**32 - 2**31) < 45000, (ts, last)
        assert count > 0
    assert 3.5 < reports[1][1] - reports[0][1] < 7.5


def test_udp_setup_is_answered_with_ports(camvisor):
    cv = camvisor({"demo": TESTSRC})
    c = RawClient(cv.rtsp_port)
    url = cv.url("demo")
    c.request("DESCRIBE", url)
    r = c.request("SETUP", url + "/trackID=0", "Transport: RTP/AVP;unicast;client_port=40000-40001\r\n")
    assert r.startswith("RTSP/1.0 200"), r
    assert re.search(r"server_port=\d+-\d+", r), r
    c.close()


def test_auth_basic_and_digest(camvisor):
    cv = camvisor({"demo": TESTSRC},
                  rtsp_extra="username = viewer\npassword = pa55word\nlocal_auth = true\n")
    c = RawClient(cv.rtsp_port)
    r = c.request("DESCRIBE", cv.url("demo"))
    assert r.startswith("RTSP/1.0 401"), r
    assert "Digest" in r and "Basic" in r
    url = f"rtsp://viewer:pa55word@127.0.0.1:{cv.rtsp_port}/demo"
    # ffmpeg answers the Digest challenge.
    assert ffprobe(url)[0]["codec_name"] == "h264"
    import base64
    good = base64.b64encode(b"viewer:pa55word").decode()
    bad = base64.b64encode(b"viewer:nope").decode()
    c = RawClient(cv.rtsp_port)
    assert c.request("DESCRIBE", cv.url("demo"), f"Authorization: Basic {good}\r\n").startswith(
        "RTSP/1.0 200")
    assert c.request("DESCRIBE", cv.url("demo"), f"Authorization: Basic {bad}\r\n").startswith(
        "RTSP/1.0 401")
    assert "pa55word" not in cv.logs()


def test_loopback_exempt_without_local_auth(camvisor):
    cv = camvisor({"demo": TESTSRC}, rtsp_extra="username = viewer\npassword = pa55word\n")
    assert ffprobe(cv.url("demo"))[0]["codec_name"] == "h264"


def test_client_that_stops_reading_does_not_slow_others(camvisor):
    cv = camvisor({"demo": "url = testsrc://?width=640&height=360&fps=25&gop=25&bitrate=3000000\n"})
    w = Watcher(cv.url("demo")).start()
    stuck = RawClient(cv.rtsp_port, rcvbuf=4096)
    try:
        url = cv.url("demo")
        stuck.request("DESCRIBE", url)
        r = stuck.request("SETUP", url + "/trackID=0",
                          "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
        session = re.search(r"Session: *([^;\r]+)", r).group(1)
        stuck.request("PLAY", url, f"Session: {session}\r\n")
        # From here on the stuck client reads nothing.
        wait_for(lambda: w.count() >= 10, 20, what="frames at the healthy client")
        t0 = time.monotonic()
        time.sleep(5)
        assert w.frames_since(t0) >= 75
        assert w.max_gap(t0) < 0.5
        # ...and once it has been behind for 5 s with nothing drained, it is dropped.
        wait_for(lambda: "client too slow" in cv.logs(), 30, what="the stalled client dropped")
        assert w.max_gap(t0) < 0.5
    finally:
        w.stop()
        stuck.close()


def test_rtcp_pli_asks_the_worker_for_a_keyframe(camvisor):
    """A client that lost the picture sends RTCP PLI (or FIR) on its RTCP channel: camvisor-rtsp
    passes it on as a keyframe request, through the supervisor, to the camera's worker (which,
    passing the camera's stream through, can only say so). Throttled to one a second a feed."""
    cv = camvisor({"demo": TESTSRC})
    c = RawClient(cv.rtsp_port)
    url = cv.url("demo")
    assert c.request("DESCRIBE", url).startswith("RTSP/1.0 200")
    r = c.request("SETUP", url + "/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
    session = re.search(r"Session: *([^;\r]+)", r).group(1)
    assert c.request("PLAY", url, f"Session: {session}\r\n").startswith("RTSP/1.0 200")
    rr = bytes([0x80, 201, 0, 1, 9, 9, 9, 9])
    pli = bytes([0x81, 206, 0, 2, 9, 9, 9, 9, 1, 2, 3, 4])
    for _ in range(5):  # five in a burst: one request reaches the worker
        c.s.sendall(b"$\x01" + struct.pack("!H", len(rr + pli)) + rr + pli)
    wait_for(lambda: "asked for a keyframe" in cv.logs(), 10, what="the worker to hear of it")
    time.sleep(0.5)
    assert cv.logs().count("asked for a keyframe") == 1
    c.close()


def test_503_says_why_the_camera_is_not_there(camvisor):
    """The worker's status reaches camvisor-rtsp each second (camera_status): a viewer of a camera
    that cannot be reached gets the worker's own reason in the 503, not just a timeout."""
    from conftest import free_port
    cv = camvisor({"gone": f"url = rtsp://127.0.0.1:{free_port()}/cam\n"})
    wait_for(lambda: "Connection refused" in cv.logs(), 15, what="the worker to fail connecting")
    c = RawClient(cv.rtsp_port)
    c.s.settimeout(20)
    r = c.request("DESCRIBE", cv.url("gone"))
    assert r.startswith("RTSP/1.0 503"), r
    reason = re.search(r"X-Reason: (.*)\r\n", r).group(1)
    assert reason.startswith("camera not streaming: ") and "Connection refused" in reason, reason
    c.close()
