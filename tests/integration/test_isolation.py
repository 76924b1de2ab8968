"""Crash isolation: what happens when a process is killed with SIGKILL right now."""
import os
import signal
import subprocess
import time

from conftest import TESTSRC, children_of, ffprobe, wait_for
from gstclient import Watcher

CAMS = {f"cam{i}": TESTSRC for i in range(4)}


def memfds_of(pids):
    """memfd: descriptors held by pids (rings show up as memfd:<camera>)."""
    found = []
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                if target.startswith("/memfd:"):
                    found.append((pid, target))
        except OSError:
            pass
    return found


def test_killed_worker_others_unaffected(camvisor):
    cv = camvisor(CAMS)
    watchers = {name: [Watcher(cv.url(name)).start() for _ in range(2)] for name in CAMS}
    try:
        for ws in watchers.values():
            for w in ws:
                wait_for(lambda: w.count() >= 10, 30, what="frames at every client")
        victim = "cam0"
        others = [w for name, ws in watchers.items() if name != victim for w in ws]
        t_start = time.monotonic()
        for kill in range(5):
            pid = cv.worker_pid(victim)
            assert pid, "victim worker not running"
            t_kill = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            # The killed camera's clients get frames again within 3 s, on the same session.
            for w in watchers[victim]:
                wait_for(lambda: w.frames_since(t_kill + 0.05) >= 3, 3.0,
                         what=f"victim frames after kill {kill + 1}")
            new_pid = wait_for(lambda: cv.worker_pid(victim), 3, what="a new worker")
            assert new_pid != pid
        t_end = time.monotonic()
        for w in others:
            gap = w.max_gap(t_start, t_end)
            assert gap < 0.25, f"another camera's client saw a {gap * 1000:.0f} ms gap"
        assert "died (signal 9" in cv.logs()
    finally:
        for ws in watchers.values():
            for w in ws:
                w.stop()


def test_killed_rtsp_process_back_within_a_second(camvisor):
    cv = camvisor({"demo": TESTSRC})
    ffprobe(cv.url("demo"))
    pid = cv.rtsp_pid()
    t = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    new = wait_for(lambda: (p := cv.rtsp_pid()) and p != pid and p, 1.0, interval=0.01,
                   what="camvisor-rtsp restarted")
    assert new != pid
    # The listening socket never closed (the supervisor holds it): clients just connect.
    streams = ffprobe(cv.url("demo"))
    assert streams[0]["codec_name"] == "h264"
    assert time.monotonic() - t < 10


def test_sigterm_leaves_nothing(camvisor):
    cv = camvisor(CAMS)
    ffprobe(cv.url("cam1"))
    kids = list(cv.children())
    assert len(kids) == 5  # 4 workers + rtsp
    assert memfds_of([cv.proc.pid])  # the supervisor holds the rings
    t = time.monotonic()
    assert cv.stop(timeout=5) == 0
    assert time.monotonic() - t < 5
    for pid in kids:
        assert not os.path.exists(f"/proc/{pid}"), f"child {pid} outlived the supervisor"


def test_supervisor_sigkill_takes_children_down(camvisor):
    cv = camvisor({"a": TESTSRC, "b": TESTSRC})
    ffprobe(cv.url("a"))
    kids = list(cv.children())
    assert kids
    cv.proc.kill()
    cv.proc.wait()
    wait_for(lambda: not any(os.path.exists(f"/proc/{p}") for p in kids), 5,
             what="children to exit after the supervisor died")
    # Nothing on disk either: rings are memfds, control sockets socketpairs.
    assert not [p for p in os.listdir("/dev/shm") if "camvisor" in p]


def test_crash_loop_backs_off(camvisor, tmp_path):
    # A file that does not exist: the worker exits at start, again and again.
    cv = camvisor({"broken": f"url = file:{tmp_path}/missing.mp4\n", "ok": TESTSRC})
    wait_for(lambda: "crash loop" in cv.logs(), 15, what="the crash loop to be reported")
    restarts = cv.logs().count("worker broken: pid")
    assert restarts < 20, "restarts are not backing off"
    # The healthy camera never noticed.
    assert ffprobe(cv.url("ok"))[0]["codec_name"] == "h264"


def test_children_run_unprivileged(camvisor):
    if os.geteuid() != 0:
        import pytest
        pytest.skip("privilege drop needs root")
    cv = camvisor({"demo": TESTSRC}, user=None)  # default [server] user: nobody
    assert ffprobe(cv.url("demo"))[0]["codec_name"] == "h264"
    for pid in cv.children():
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        uid = int(status.split("Uid:")[1].split()[0])
        assert uid != 0, f"child {pid} runs as root"
        assert "NoNewPrivs:\t1" in status
