#!/usr/bin/python3
"""Frame gaps from a real camera, straight and through camvisor, side by side.

A GStreamer RTSP camera (tests/integration/camera.py; 640x360 H.264 at 25 fps unless told) is
watched by two GStreamer rtspsrc clients over TCP at once: one straight from the camera and one
through camvisor's RTSP restream. Each records when every access unit arrives; the script prints
every gap longer than 1.6 frame intervals, and each client's count, worst and p99 gap. A stall
that only the relayed client sees is camvisor's; one both see is the camera's.

    /usr/bin/python3 bench/camera_gaps.py [seconds=60] [WxH=640x360]

BUILD=path runs the programs of another build folder (default build/, never the ASan one).
"""
import os
import pathlib
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "integration"))
os.environ.setdefault("CAMVISOR_BUILD", os.environ.get("BUILD", str(ROOT / "build")))

import conftest  # noqa: E402
from camera import Camera  # noqa: E402
from gstclient import Watcher  # noqa: E402


def report(name, times, t0, t1, frame_s):
    ts = [t for t in times if t0 <= t <= t1]
    gaps = sorted(ts[i + 1] - ts[i] for i in range(len(ts) - 1))
    long = [(round(ts[i] - t0, 2), round((ts[i + 1] - ts[i]) * 1000))
            for i in range(len(ts) - 1) if ts[i + 1] - ts[i] > 1.6 * frame_s]
    p99 = gaps[int(len(gaps) * 0.99)] if gaps else 0
    print(f"{name}: {len(ts)} frames, {len(long)} gaps over {1.6 * frame_s * 1000:.0f} ms, "
          f"worst {gaps[-1] * 1000 if gaps else 0:.1f} ms, p99 {p99 * 1000:.1f} ms")
    print(f"  long gaps (s into the run, ms): {long}")


def main():
    dur = float(sys.argv[1]) if len(sys.argv) > 1 else 60
    w, h = (int(x) for x in (sys.argv[2] if len(sys.argv) > 2 else "640x360").split("x"))
    fps = 25
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="camvisor-gaps-"))
    cam = Camera(codec="h264", width=w, height=h, fps=fps, gop=2 * fps).start()
    cv = conftest.Camvisor(tmp, {"cam": f"url = {cam.url}\n"}).start()
    direct = Watcher(cam.url).start()
    relay = Watcher(cv.url("cam")).start()
    try:
        time.sleep(3)
        t0 = time.monotonic()
        time.sleep(dur)
        t1 = time.monotonic()
        print(f"# camera_gaps.py: {w}x{h} {fps} fps, {dur:.0f} s, build {conftest.BUILD}")
        report("straight from the camera", direct.times, t0, t1, 1 / fps)
        report("through camvisor        ", relay.times, t0, t1, 1 / fps)
    finally:
        direct.stop()
        relay.stop()
        cv.stop()
        cam.stop()


if __name__ == "__main__":
    main()
