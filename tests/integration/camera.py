"""A real RTSP camera for tests: GStreamer's RTSP server (gst-rtsp-server), run as its own
process so a test can make the camera vanish (SIGKILL) and come back.

    cam = Camera(codec="h264", audio="pcma").start()
    cam.url            # rtsp://127.0.0.1:PORT/cam (rtsps:// with tls=True)
    cam.connections()  # RTSP client connections the camera has accepted (start()'s own
                       # readiness probe excluded)
    cam.describes()    # DESCRIBE requests it has answered
    cam.pause() / cam.resume()  # SIGSTOP / SIGCONT: a camera that stalls with its sockets open
    cam.expired()      # sessions it timed out (session_timeout=N: expires idle sessions after N s)

Run as a script it is the camera process itself (see main())."""
import os
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Camera:
    def __init__(self, codec="h264", audio=None, width=320, height=240, fps=25, gop=25,
                 user=None, password=None, port=None, path="cam", slices=1, sdp_only_params=False,
                 digest=False, tls=False, session_timeout=None):
        self.port = port or _free_port()
        self.args = ["--port", str(self.port), "--codec", codec, "--width", str(width),
                     "--height", str(height), "--fps", str(fps), "--gop", str(gop),
                     "--path", path, "--slices", str(slices)]
        if audio:
            self.args += ["--audio", audio]
        if user:
            self.args += ["--user", user, "--password", password]
        if sdp_only_params:
            self.args += ["--sdp-only-params"]
        if digest:
            self.args += ["--digest"]
        if session_timeout:
            self.args += ["--session-timeout", str(session_timeout)]
        if tls:
            self.args += ["--tls", _tls_pem()]
        self.tls = tls
        self.probes = 0
        self.path = path
        self.user, self.password = user, password
        self.proc = None
        self.log = None
        self.log_path = f"/tmp/camvisor-test-camera-{self.port}-{time.monotonic_ns()}.log"

    @property
    def url(self):
        return f"{'rtsps' if self.tls else 'rtsp'}://127.0.0.1:{self.port}/{self.path}"

    def start(self, wait=True):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.abspath(__file__)] + self.args,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        if wait:
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                        self.probes += 1
                        return self
                except OSError:
                    time.sleep(0.1)
            raise AssertionError("camera did not start")
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self):
        self.kill()
        if self.log:
            self.log.close()

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def _count(self, line):
        try:
            with open(self.log_path) as f:
                return f.read().count(line)
        except OSError:
            return 0

    def connections(self):
        """Client connections accepted so far, without start()'s readiness probes (whose line
        may be printed a moment after start() returns: ask after the clients have connected)."""
        return self._count("client connected") - self.probes

    def expired(self):
        """Sessions timed out so far (session_timeout cameras only)."""
        return sum(int(l.split()[1]) for l in self._lines("expired "))

    def _lines(self, prefix):
        try:
            with open(self.log_path) as f:
                return [l for l in f if l.startswith(prefix)]
        except OSError:
            return []

    def describes(self):
        """DESCRIBE requests answered so far."""
        return self._count("describe request")


def _tls_pem():
    """A self-signed certificate and key for 127.0.0.1, made once per test run."""
    path = "/tmp/camvisor-test-camera-tls.pem"
    if not os.path.exists(path):
        key, crt = path + ".key", path + ".crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", crt],
                       check=True, capture_output=True)
        with open(path + ".tmp", "w") as f:
            f.write(open(crt).read() + open(key).read())
        os.rename(path + ".tmp", path)
    return path


def main():
    import argparse

    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    gi.require_version("GstRtsp", "1.0")
    from gi.repository import Gio, GLib, Gst, GstRtsp, GstRtspServer

    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--codec", default="h264")
    ap.add_argument("--audio")
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--gop", type=int, default=25)
    ap.add_argument("--path", default="cam")
    ap.add_argument("--slices", type=int, default=1)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--sdp-only-params", action="store_true")
    ap.add_argument("--digest", action="store_true")
    ap.add_argument("--session-timeout", type=int)
    ap.add_argument("--tls")
    a = ap.parse_args()

    Gst.init(None)
    video = (f"videotestsrc is-live=true pattern=ball ! video/x-raw,width={a.width},"
             f"height={a.height},framerate={a.fps}/1 ! timeoverlay ! ")
    if a.codec == "h264":
        # config-interval: parameter sets in band before each IDR, unless the test wants them
        # only in the SDP.
        interval = 0 if a.sdp_only_params else -1
        video += (f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={a.gop} "
                  f"bitrate=500 sliced-threads=false option-string=slices={a.slices}"
                  + (":repeat-headers=0" if a.sdp_only_params else "") + " ! "
                  + f"rtph264pay name=pay0 pt=96 config-interval={interval}")
    else:
        video += (f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={a.gop} "
                  f"bitrate=500 ! rtph265pay name=pay0 pt=96 config-interval=-1")
    audio = ""
    if a.audio == "pcma":
        audio = (" audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 ! "
                 "alawenc ! rtppcmapay name=pay1 pt=8")
    elif a.audio == "pcmu":
        audio = (" audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=8000,channels=1 ! "
                 "mulawenc ! rtppcmupay name=pay1 pt=0")
    elif a.audio == "aac":
        audio = (" audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=16000,channels=1 ! "
                 "avenc_aac ! rtpmp4gpay name=pay1 pt=97")
    elif a.audio == "opus":
        audio = (" audiotestsrc is-live=true wave=sine ! audio/x-raw,rate=48000,channels=2 ! "
                 "opusenc ! rtpopuspay name=pay1 pt=111")

    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(a.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(f"( {video}{audio} )")
    factory.set_shared(True)
    auth = None
    if a.user or a.tls:
        auth = GstRtspServer.RTSPAuth()
        server.set_auth(auth)
    if a.tls:
        with open(a.tls) as f:
            auth.set_tls_certificate(Gio.TlsCertificate.new_from_pem(f.read(), -1))
    if not a.user and a.tls:
        # Anyone may watch; TLS alone. The default token grants access to the factory.
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "anonymous")
        auth.set_default_token(token)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role_from_structure(Gst.Structure.new_from_string(
            "anonymous, media.factory.access=(boolean)true, "
            "media.factory.construct=(boolean)true"))
        factory.set_permissions(perms)
    if a.user:
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "user")
        if a.digest:
            auth.add_digest(a.user, a.password, token)
            auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
        else:
            auth.add_basic(GstRtspServer.RTSPAuth.make_basic(a.user, a.password), token)
        perms = GstRtspServer.RTSPPermissions()
        perms.add_role_from_structure(Gst.Structure.new_from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"))
        factory.set_permissions(perms)
    server.get_mount_points().add_factory(f"/{a.path}", factory)

    def on_describe(_client, _ctx):
        print("describe request", flush=True)

    def on_session(_client, session):
        if a.session_timeout:
            session.set_timeout(a.session_timeout)

    def on_client(_server, client):
        print("client connected", flush=True)
        client.connect("describe-request", on_describe)
        client.connect("new-session", on_session)

    def expire():
        n = server.get_session_pool().cleanup()
        if n:
            print(f"expired {n} sessions", flush=True)
        return True

    if a.session_timeout:
        # gst-rtsp-server expires sessions only when asked to.
        GLib.timeout_add_seconds(1, expire)

    server.connect("client-connected", on_client)
    server.attach(None)
    print(f"camera ready on {a.port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
