#!/usr/bin/python3
"""A worker's memory with one MJPEG viewer asking for more than its camera has (bench/RESULTS.md
§14): a 320x240 testsrc camera, one stream.mjpeg?width=W&height=H client that reads for 1 s and
leaves, then the worker's VmRSS sampled every 0.1 s for DUR seconds. Prints its RSS before and
at its peak, the watchdog kills, whether the viewer was forgotten and the variant stopped.

    /usr/bin/python3 bench/jpeg_rss.py [W H]       # 8192 8192; DUR=20; BUILD=build/asan
    BUILD=build/asan-old DEFQ=1 /usr/bin/python3 bench/jpeg_rss.py 6000 6000

Under ASan (the default build here, as the review measured) freed memory waits in a quarantine
that RSS counts: it is kept at 8 MiB unless DEFQ=1 (ASan's default, 256 MiB)."""
import http.client
import json
import os
import pathlib
import socket
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("CAMVISOR_BUILD", os.environ.get("BUILD", "build/asan"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import conftest  # noqa: E402


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except OSError:
        pass
    return 0


def main():
    w, h = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else ("8192", "8192")
    dur = float(os.environ.get("DUR", "20"))
    env = {} if os.environ.get("DEFQ") else {
        "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:quarantine_size_mb=8"}
    cv = conftest.Camvisor(pathlib.Path(tempfile.mkdtemp()), {"door": conftest.TESTSRC},
                           env=env).start()
    try:
        conftest.wait_for(lambda: cv.worker_pid("door"), 10, what="the worker")
        time.sleep(3)
        before = rss_mib(cv.worker_pid("door"))
        s = socket.create_connection(("127.0.0.1", cv.api_port))
        s.sendall(f"GET /api/stream.mjpeg?src=door&width={w}&height={h} HTTP/1.1\r\n"
                  "Host: x\r\n\r\n".encode())
        s.settimeout(0.2)
        got, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < 1:
            try:
                got += len(s.recv(1 << 20))
            except socket.timeout:
                pass
        s.close()
        peak, t0 = 0, time.monotonic()
        while time.monotonic() - t0 < dur:
            pid = cv.worker_pid("door")
            peak = max(peak, rss_mib(pid) if pid else 0)
            time.sleep(0.1)
        c = http.client.HTTPConnection("127.0.0.1", cv.api_port, timeout=5)
        c.request("GET", "/api/cameras")
        viewers = json.loads(c.getresponse().read())["cameras"][0]["viewers"]["mjpeg"]
    finally:
        cv.stop()
    log = cv.logs()
    print(f"{w}x{h} of 320x240 ({cv.env and 'quarantine 8 MiB' or 'default quarantine'}): "
          f"{got} bytes in the first second; worker RSS {before} MiB before, {peak} MiB peak; "
          f"watchdog kills {log.count('sent nothing for')}; MJPEG viewers after {dur:.0f} s: "
          f"{viewers}; variant stopped: {'stopped, nobody wants it' in log}")


if __name__ == "__main__":
    main()
