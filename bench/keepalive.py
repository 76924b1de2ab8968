#!/usr/bin/python3
"""camvisor-http request/response rate over one keep-alive connection, against a new connection
per request. A browser's UI polling /api/cameras, Home Assistant's client and Prometheus all
reuse one connection, so this is the rate they see. Runs the -O2 build in $BUILD (default build/).

    /usr/bin/python3 bench/keepalive.py            # N=200 REPEATS=5: about 10 s
    BUILD=build/asan N=50 /usr/bin/python3 bench/keepalive.py

Each repeat sends N requests one after another (the next one once the answer is read), on one
connection or on a new connection each; the figure is the median over REPEATS of N / seconds.
No camera: the answers are camvisor-http's own (/api is ~200 bytes of JSON, /api/schemes ~40,
/ is the web UI's index.html, served by libwebsockets from www/)."""
import http.client
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(ROOT, "build"))
N = int(os.environ.get("N", "200"))
REPEATS = int(os.environ.get("REPEATS", "5"))
PATHS = os.environ.get("PATHS", "/api /api/schemes /").split()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def whole_machine():
    """(busy, total) jiffies of every CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4], sum(v)


class Server:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="cv-bench-ka-")
        self.api = free_port()
        os.makedirs(os.path.join(self.dir, "cameras.d"))
        with open(os.path.join(self.dir, "camvisor.ini"), "w") as f:
            f.write(f"[server]\nlog_level = warn\n[rtsp]\nlisten = 127.0.0.1:{free_port()}\n"
                    f"[api]\nlisten = 127.0.0.1:{self.api}\n[webrtc]\nlisten =\n")
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen([os.path.join(BUILD, "camvisor"), "-c",
                                      os.path.join(self.dir, "camvisor.ini")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.api, timeout=1)
                c.request("GET", "/api")
                if c.getresponse().status == 200:
                    c.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("camvisor-http did not answer in 20 s")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        shutil.rmtree(self.dir)


def rate(port, path, keepalive):
    """Requests per second, N in a row, and the answer's size."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    size = 0
    t0 = time.monotonic()
    for _ in range(N):
        if not keepalive:
            c.close()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        size = len(r.read())
        assert r.status == 200, (path, r.status)
    dt = time.monotonic() - t0
    c.close()
    return N / dt, size


def main():
    srv = Server()
    try:
        cpu = open("/proc/cpuinfo").read()
        model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines()
                      if line.startswith("model name")), "?")
        rev = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip() or "?"
        print(f"# bench/keepalive.py: {rev}, {os.cpu_count()} CPUs, {model}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {BUILD}")
        print(f"# {N} requests per repeat, median of {REPEATS}")
        print("path | bytes | keep-alive req/s | ms each | new connection req/s | whole machine %")
        for path in PATHS:
            b0, t0 = whole_machine()
            ka, new = [], []
            for _ in range(REPEATS):
                r, size = rate(srv.api, path, True)
                ka.append(r)
                new.append(rate(srv.api, path, False)[0])
            b1, t1 = whole_machine()
            k = statistics.median(ka)
            print(f"{path} | {size} | {k:.0f} | {1000 / k:.2f} | {statistics.median(new):.0f} | "
                  f"{100 * (b1 - b0) / max(1, t1 - t0) * os.cpu_count():.0f}")
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
