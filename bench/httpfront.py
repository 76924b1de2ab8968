#!/usr/bin/python3
"""camvisor-http figures (issue 7): MSE viewers per core, WebSocket open -> first fMP4 fragment,
and /api/frame.jpeg latency, for one 1080p25 ~4 Mbit/s H.264 camera (GOP 2 s, a file: source:
no encoder in the measurement). Runs the -O2 build in $BUILD (default build/).

    /usr/bin/python3 bench/httpfront.py            # DUR=20 NS="1 16 64" TRIES=20: about 3 minutes
    DUR=10 NS="64" /usr/bin/python3 bench/httpfront.py

CPU is utime+stime of each process from /proc/<pid>/stat over the window, in % of one core.
Latencies are medians and p90 over TRIES tries. "warm": someone already watches the camera (the
feed and its GOP cache exist); "cold": nobody did for 6 s (the feed is closed, so the first
viewer subscribes, and for a JPEG the worker starts its decoder and decodes from the newest
keyframe)."""
import os
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from wsclient import WsClient  # noqa: E402

BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
DUR = float(os.environ.get("DUR", "20"))
NS = [int(n) for n in os.environ.get("NS", "1 16 64").split()]
TRIES = int(os.environ.get("TRIES", "20"))
DATA = os.path.join(ROOT, "build", "bench-data")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def clip():
    """The same clip as bench/lib.sh's make_clip cam1080p4m 1920 1080 4M 30."""
    os.makedirs(DATA, exist_ok=True)
    out = os.path.join(DATA, "cam1080p4m.mp4")
    if not os.path.exists(out):
        subprocess.run(["ffmpeg", "-hide_banner", "-v", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=1920x1080:rate=25", "-vf", "noise=alls=10:allf=t", "-t", "30",
                        "-c:v", "libx264", "-preset", "veryfast", "-b:v", "4M", "-maxrate", "4M",
                        "-bufsize", "4M", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
                        "-bf", "0", "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart",
                        out + ".tmp.mp4"], check=True)
        os.rename(out + ".tmp.mp4", out)
    return out


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    out[int(d)] = f.read().replace(b"\0", b" ").decode().strip()
        except OSError:
            pass
    return out


def pct(samples, q):
    s = sorted(samples)
    return s[min(len(s) - 1, int(q * len(s)))]


class Server:
    def __init__(self, clip_path):
        self.dir = tempfile.mkdtemp(prefix="cv-bench-http-")
        self.api = free_port()
        rtsp = free_port()
        os.makedirs(os.path.join(self.dir, "cameras.d"))
        with open(os.path.join(self.dir, "camvisor.ini"), "w") as f:
            f.write(f"[server]\nlog_level = info\n[rtsp]\nlisten = 127.0.0.1:{rtsp}\n"
                    f"[api]\nlisten = 127.0.0.1:{self.api}\nmax_connections_per_client = 1000\n"
                    "[webrtc]\nlisten =\n")
        with open(os.path.join(self.dir, "cameras.d", "cam.ini"), "w") as f:
            f.write(f"[camera]\nurl = file:{clip_path}\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen([os.path.join(BUILD, "camvisor"), "-c",
                                      os.path.join(self.dir, "camvisor.ini")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.api}/api/cameras", timeout=1) as r:
                    if b'"streaming"' in r.read():
                        break
            except OSError:
                pass
            time.sleep(0.2)
        kids = children(self.proc.pid)
        self.http = next(p for p, c in kids.items() if "camvisor-http" in c)
        self.worker = next(p for p, c in kids.items() if "camvisor-worker" in c)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        # What the worker said of each JPEG catch-up: frames decoded and how long it took.
        with open(os.path.join(self.dir, "log")) as f:
            for line in f:
                if "variant jpeg: producing" in line:
                    print("# worker:", line.split("] ", 1)[1].strip())
        shutil.rmtree(self.dir)


def mse_open(port):
    ws = WsClient(port, "/api/ws?src=cam")
    assert ws.status == 101, ws.head
    ws.send({"type": "mse", "value": "avc1.640029,avc1.64002A,avc1.640033,mp4a.40.2"})
    return ws


def viewers_cpu(srv, n):
    """n MSE viewers reading everything for DUR s: CPU of camvisor-http and of the worker."""
    socks = [mse_open(srv.api) for _ in range(n)]
    for s in socks:
        s.s.setblocking(False)
    got = [0] * n
    fds = {s.s.fileno(): i for i, s in enumerate(socks)}
    t_end = time.monotonic() + 2  # warm-up: every viewer has its GOP and is live
    while time.monotonic() < t_end:
        for fd in select.select(list(fds), [], [], 0.1)[0]:
            socks[fds[fd]].s.recv(1 << 20)
    h0, w0, t0 = cpu_seconds(srv.http), cpu_seconds(srv.worker), time.monotonic()
    t_end = t0 + DUR
    while time.monotonic() < t_end:
        for fd in select.select(list(fds), [], [], 0.1)[0]:
            try:
                data = socks[fds[fd]].s.recv(1 << 20)
            except BlockingIOError:
                continue
            got[fds[fd]] += len(data)
    dt = time.monotonic() - t0
    h, w = (cpu_seconds(srv.http) - h0) / dt * 100, (cpu_seconds(srv.worker) - w0) / dt * 100
    for s in socks:
        s.close()
    rates = [g * 8 / dt / 1e6 for g in got]
    return h, w, min(rates), max(rates)


def first_fragment(srv, cold):
    """ms from the WebSocket's TCP connect to the first media fragment (after init)."""
    if cold:
        time.sleep(6)  # the feed closes 5 s after its last viewer
    t0 = time.monotonic()
    ws = mse_open(srv.api)
    ws.recv_json()   # the mse reply
    ws.recv()        # the init segment
    ws.recv()        # the first fragment: the newest keyframe
    ms = (time.monotonic() - t0) * 1000
    ws.close()
    return ms


def snapshot(srv, cold):
    if cold:
        time.sleep(8)  # the jpeg feed closes 3 s after its last use, the variant 3 s later
    t0 = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{srv.api}/api/frame.jpeg?src=cam", timeout=20) as r:
        body = r.read()
    assert body[:2] == b"\xff\xd8"
    return (time.monotonic() - t0) * 1000, len(body)


def main():
    c = clip()
    srv = Server(c)
    try:
        cpu = open("/proc/cpuinfo").read()
        model = next((l.split(":", 1)[1].strip() for l in cpu.splitlines()
                      if l.startswith("model name")), "?")
        print(f"# bench/httpfront.py: {os.cpu_count()} CPUs, {model}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print(f"# clip {c}; window {DUR:.0f} s; tries {TRIES}")
        print("viewers | camvisor-http % | worker % | Mbit/s per viewer (min..max)")
        for n in NS:
            h, w, lo, hi = viewers_cpu(srv, n)
            print(f"{n:7d} | {h:15.2f} | {w:8.2f} | {lo:.2f}..{hi:.2f}")
        # Warm: a viewer stays connected meanwhile.
        keep = mse_open(srv.api)
        keep.recv_json()
        warm = [first_fragment(srv, False) for _ in range(TRIES)]
        snaps_w = []
        snapshot(srv, False)
        for _ in range(TRIES):
            snaps_w.append(snapshot(srv, False)[0])
            time.sleep(0.3)
        keep.close()
        cold = [first_fragment(srv, True) for _ in range(max(3, TRIES // 4))]
        snaps_c = [snapshot(srv, True)[0] for _ in range(max(3, TRIES // 4))]
        print("measure | median ms | p90 ms | n")
        for name, xs in (("ws open -> first fragment, warm", warm),
                         ("ws open -> first fragment, cold", cold),
                         ("frame.jpeg 1080p, warm", snaps_w),
                         ("frame.jpeg 1080p, cold (decode from keyframe)", snaps_c)):
            print(f"{name} | {statistics.median(xs):.1f} | {pct(xs, 0.9):.1f} | {len(xs)}")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
