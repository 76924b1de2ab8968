"""Fixtures for camvisor's black-box tests: real programs on loopback, real clients.

Every test gets its own config folder and free ports, so tests never share state. The programs
under test are CAMVISOR_BUILD (build/asan when run from `make test`)."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("CAMVISOR_BUILD", "build/asan"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_tcp_udp():
    """A port free for both TCP and UDP (camvisor-webrtc binds both)."""
    for _ in range(50):
        with socket.socket() as t, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            t.bind(("127.0.0.1", 0))
            port = t.getsockname()[1]
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no port free for both TCP and UDP")


def wait_for(pred, timeout, interval=0.05, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def children_of(pid):
    """Direct children of pid, as {pid: cmdline}."""
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid != pid:
                continue
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode().strip()
            out[int(entry)] = cmd
        except (OSError, IndexError, ValueError):
            continue
    return out


class Camvisor:
    """One supervisor instance with its config folder."""

    def __init__(self, tmp_path, cameras, rtsp_extra="", log_level="info", user="root",
                 nofile=None, env=None, api_extra="", server_extra="", webrtc_extra=""):
        self.nofile = nofile  # RLIMIT_NOFILE for the supervisor and so its children
        self.env = env or {}  # added to the supervisor's environment
        self.dir = tmp_path
        # Each port is free when picked, but closed again at once: the kernel may hand the same
        # one out twice, and camvisor refuses a config whose listeners share a port.
        self.rtsp_port = free_port()
        self.api_port = free_port()
        while self.api_port == self.rtsp_port:
            self.api_port = free_port()
        self.webrtc_port = free_port_tcp_udp()
        while self.webrtc_port in (self.rtsp_port, self.api_port):
            self.webrtc_port = free_port_tcp_udp()
        self.conf = tmp_path / "camvisor.ini"
        self.cams_dir = tmp_path / "cameras.d"
        self.cams_dir.mkdir(exist_ok=True)
        # Tests run children as root unless they test the drop: faster start, no file modes.
        user = user if os.geteuid() == 0 else None
        self.conf.write_text(
            "[server]\n"
            f"log_level = {log_level}\n"
            + (f"user = {user}\n" if user else "") + server_extra
            + "[rtsp]\n"
            f"listen = 127.0.0.1:{self.rtsp_port}\n" + rtsp_extra + "[api]\n"
            f"listen = 127.0.0.1:{self.api_port}\n" + api_extra + "[webrtc]\n"
            f"listen = 127.0.0.1:{self.webrtc_port}\n" + webrtc_extra
        )
        for name, body in cameras.items():
            self.write_camera(name, body)
        self.proc = None
        self.log_path = tmp_path / "camvisor.log"

    def write_camera(self, name, body):
        (self.cams_dir / f"{name}.ini").write_text("[camera]\n" + body)

    def url(self, camera, query=""):
        return f"rtsp://127.0.0.1:{self.rtsp_port}/{camera}" + (f"?{query}" if query else "")

    def start(self):
        self.log = open(self.log_path, "w")
        env = dict(os.environ, **self.env)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
        env.setdefault("LSAN_OPTIONS", f"suppressions={ROOT}/tests/lsan.supp:print_suppressions=0")
        limit = None
        if self.nofile:
            import resource
            limit = lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile))
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "camvisor"), "-c", str(self.conf)],
            stdout=self.log, stderr=subprocess.STDOUT, env=env, preexec_fn=limit)
        wait_for(lambda: self.rtsp_pid(), 10, what="camvisor-rtsp to start")
        wait_for(self.port_open, 10, what="the RTSP port")
        wait_for(lambda: self.http_pid(), 10, what="camvisor-http to start")
        return self

    def http_url(self, path):
        return f"http://127.0.0.1:{self.api_port}{path}"

    def http_pid(self):
        for pid, cmd in self.children().items():
            if "camvisor-http" in cmd:
                return pid
        return None

    def port_open(self):
        try:
            with socket.create_connection(("127.0.0.1", self.rtsp_port), timeout=0.5):
                return True
        except OSError:
            return False

    def logs(self):
        return self.log_path.read_text(errors="replace")

    def children(self):
        return children_of(self.proc.pid)

    def rtsp_proc(self, field):
        """A field of camvisor-rtsp's /proc status (e.g. "VmRSS" in kB), or its CPU seconds
        for "cpu"."""
        pid = self.rtsp_pid()
        if field == "cpu":
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def worker_pid(self, camera):
        for pid, cmd in self.children().items():
            if cmd.endswith(f"camvisor-worker {camera}"):
                return pid
        return None

    def webrtc_pid(self):
        for pid, cmd in self.children().items():
            if "camvisor-webrtc" in cmd:
                return pid
        return None

    def rtsp_pid(self):
        for pid, cmd in self.children().items():
            if "camvisor-rtsp" in cmd:
                return pid
        return None

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=5):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        if hasattr(self, "log"):
            self.log.close()
        return self.proc.returncode if self.proc else None


# Every child's end as the supervisor logs it: "worker door: pid 12 died (signal 6) after ...",
# "rtsp: pid 9 stopped (exit code 0)".
CHILD_END = re.compile(r"\b(worker \S+|rtsp|http|webrtc): pid (\d+) (died|stopped) \(([^)]*)\)")
SANITIZER = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "AddressSanitizer:DEADLYSIGNAL",
             "runtime error:", "UndefinedBehaviorSanitizer")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "may_die(*children): the test kills or breaks these children on purpose "
        "('worker NAME', 'rtsp', 'http', 'webrtc', or 'supervisor'); any other death still fails it")


def unexpected_ends(log, allowed):
    """Log lines of children that died or stopped with an error, other than those allowed."""
    bad = []
    for line in log.splitlines():
        m = CHILD_END.search(line)
        if not m or m.group(1) in allowed:
            continue
        if m.group(3) == "died" or m.group(4) != "exit code 0":
            bad.append(line)
    return bad


def check_clean(cv, allowed):
    """What every test asserts after its own: no sanitizer report from any process, no child
    that died or stopped with an error unless the test said it would, and a supervisor that
    exited 0 on SIGTERM. A worker that hit an assertion is restarted by the supervisor and the
    test's own checks may well pass; this is what catches it."""
    log = cv.logs()
    for marker in SANITIZER:
        assert marker not in log, f"sanitizer report ({marker}):\n{log[-4000:]}"
    bad = unexpected_ends(log, allowed)
    assert not bad, "children ended unexpectedly:\n" + "\n".join(bad)
    if "supervisor" not in allowed:
        assert cv.proc.returncode == 0, f"camvisor exited {cv.proc.returncode}:\n{log[-4000:]}"


@pytest.fixture
def camera():
    """Factory: camera(**Camera kwargs) -> a started GStreamer test camera, stopped at teardown."""
    from camera import Camera
    cams = []

    def make(**kw):
        cam = Camera(**kw)
        cams.append(cam)
        return cam.start()

    yield make
    for cam in cams:
        cam.stop()


@pytest.fixture
def camvisor(tmp_path, request):
    """Factory: camvisor(cameras={name: ini body}) -> started Camvisor, stopped at teardown,
    then checked by check_clean (opt out per child with @pytest.mark.may_die)."""
    started = []
    marker = request.node.get_closest_marker("may_die")
    allowed = set(marker.args) if marker else set()

    def make(cameras, **kw):
        c = Camvisor(tmp_path, cameras, **kw)
        started.append(c)  # before start(): one that fails to start is stopped all the same
        return c.start()

    yield make
    for c in started:
        try:
            c.stop()
        finally:
            check_clean(c, allowed)


TESTSRC = "url = testsrc://?width=320&height=240&fps=25&gop=25\n"


def ffprobe(url, timeout=20, transport="tcp"):
    """Stream facts as ffprobe reports them: [{codec_name, width, height, ...}]."""
    import json
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-rtsp_transport", transport, "-timeout", "5000000",
         "-show_entries", "stream=codec_name,codec_type,width,height,profile",
         "-of", "json", url],
        capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["streams"]


def ffmpeg_frames(url, frames, timeout=30, transport="tcp"):
    """Decodes `frames` video frames with ffmpeg; returns (seconds taken, stderr)."""
    t0 = time.monotonic()
    out = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-v", "error", "-rtsp_transport", transport,
         "-timeout", "5000000", "-i", url, "-frames:v", str(frames), "-f", "null", "-"],
        capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stderr
    return time.monotonic() - t0, out.stderr
