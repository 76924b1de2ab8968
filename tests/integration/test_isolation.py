"""Crash isolation: what happens when a process is killed with SIGKILL right now."""
import os
import re
import signal
import subprocess
import time

import pytest

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


@pytest.mark.may_die("worker cam0")
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


@pytest.mark.may_die("rtsp")
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
    assert len(kids) == 7  # 4 workers, rtsp, http, webrtc
    assert memfds_of([cv.proc.pid])  # the supervisor holds the rings
    t = time.monotonic()
    assert cv.stop(timeout=5) == 0
    assert time.monotonic() - t < 5
    for pid in kids:
        assert not os.path.exists(f"/proc/{pid}"), f"child {pid} outlived the supervisor"


@pytest.mark.may_die("supervisor")
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


@pytest.mark.may_die("worker hung")
def test_hung_worker_is_replaced(camvisor):
    """A worker that stops reporting (SIGSTOP here: a deadlock looks the same) is killed after
    5 s of silence and restarted; its viewers get video again, the other camera never stops."""
    cv = camvisor({"hung": TESTSRC, "fine": TESTSRC})
    wait_for(lambda: cv.worker_pid("hung") and cv.worker_pid("fine"), 10, what="both workers")
    w = Watcher(cv.url("fine")).start()
    try:
        wait_for(lambda: w.count() >= 10, 20, what="frames from the healthy camera")
        hung, fine = cv.worker_pid("hung"), cv.worker_pid("fine")
        t = time.monotonic()
        os.kill(hung, signal.SIGSTOP)
        new = wait_for(lambda: (p := cv.worker_pid("hung")) and p != hung and p, 15,
                       what="the hung worker replaced")
        assert 4.5 < time.monotonic() - t < 12
        assert new != hung and cv.worker_pid("fine") == fine
        assert "sent nothing for" in cv.logs()
        assert ffprobe(cv.url("hung"))[0]["codec_name"] == "h264"
        assert w.max_gap(t) < 0.5
    finally:
        w.stop()


@pytest.mark.may_die("worker cam")
def test_corrupted_ring_is_rebuilt_under_its_viewers(camvisor):
    """Garbage over a ring's header once left every new worker failing with 'cannot open ring:
    Bad message', exiting 0 and retried forever. Now the worker says so (exit code 3), the
    supervisor makes a new ring and moves the subscriptions onto it: the viewer, still on its
    RTSP session, gets frames again."""
    cv = camvisor({"cam": TESTSRC, "other": TESTSRC})
    w = Watcher(cv.url("cam")).start()
    o = Watcher(cv.url("other")).start()
    try:
        wait_for(lambda: w.count() >= 10 and o.count() >= 10, 30, what="frames at both")
        ring = next(f"/proc/{cv.proc.pid}/fd/{fd}" for fd in os.listdir(f"/proc/{cv.proc.pid}/fd")
                    if os.readlink(f"/proc/{cv.proc.pid}/fd/{fd}").startswith("/memfd:cam "))
        with open(ring, "r+b") as f:
            f.write(b"\xa5" * 4096)  # the header, gone
        t = time.monotonic()
        os.kill(cv.worker_pid("cam"), signal.SIGKILL)
        wait_for(lambda: "its ring was unusable" in cv.logs(), 15, what="the ring rebuilt")
        wait_for(lambda: w.frames_since(t + 0.5) >= 10, 20, what="frames on the same session")
        assert "exit code 3" in cv.logs()
        assert o.max_gap(t) < 0.5, "the other camera noticed"
    finally:
        w.stop()
        o.stop()


@pytest.mark.may_die("worker broken")
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

        pytest.skip("privilege drop needs root")
    import pwd
    account = pwd.getpwnam("camvisor").pw_uid  # made by make deps / make install
    cv = camvisor({"demo": TESTSRC}, user=None,  # default [server] user: camvisor
                  env={"CAM_SECRET": "hunter2", "HOME": "/root/secret-home"})
    assert ffprobe(cv.url("demo"))[0]["codec_name"] == "h264"
    kids = cv.children()
    assert len(kids) == 4  # the worker, camvisor-rtsp, camvisor-http, camvisor-webrtc
    for pid in kids:
        with open(f"/proc/{pid}/status") as f:
            status = f.read()
        uid = int(status.split("Uid:")[1].split()[0])
        assert uid == account, f"child {pid} runs as uid {uid}, not camvisor's {account}"
        assert "NoNewPrivs:\t1" in status
        # Non-dumpable: the kernel gives its /proc files to root, so another process of the
        # same account cannot read its memory, descriptors or environment.
        assert os.stat(f"/proc/{pid}/mem").st_uid == 0, f"child {pid} is dumpable"
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
        assert not [e for e in env if e.startswith((b"CAM_SECRET", b"HOME", b"PATH"))], env


def ring_bytes(cv, camera):
    """The size of the camera's ring memfd, as the supervisor holds it."""
    d = f"/proc/{cv.proc.pid}/fd"
    for fd in os.listdir(d):
        try:
            if os.readlink(f"{d}/{fd}").startswith(f"/memfd:{camera} "):
                return os.stat(f"{d}/{fd}").st_size
        except OSError:
            pass
    return None


def test_auto_ring_is_sized_to_the_stream_under_its_viewer(camvisor):
    """ring_size = auto (the default): a ring starts at 6 MiB and, once the stream is measured,
    moves to one holding its largest GOP with headroom. The worker moves live and the viewer
    stays on its session without a gap; a new viewer starts at once from the new ring."""
    cv = camvisor({"cam": TESTSRC})
    w = Watcher(cv.url("cam")).start()
    try:
        wait_for(lambda: w.count() >= 10, 30, what="frames")
        first = ring_bytes(cv, "cam")
        assert first > 6 << 20
        t = time.monotonic()
        wait_for(lambda: "moved to a" in cv.logs(), 20, what="the worker to move to a sized ring")
        wait_for(lambda: (ring_bytes(cv, "cam") or first) < first, 5, what="the old ring freed")
        assert ring_bytes(cv, "cam") < 1 << 20  # 320x240 at ~0.3 Mbit/s: the 256 KiB minimum
        time.sleep(1)
        assert w.max_gap(t) < 0.5, f"the viewer saw a {w.max_gap(t):.2f} s gap"
        assert ffprobe(cv.url("cam"))[0]["codec_name"] == "h264"
        assert "KiB -> " in cv.logs()
    finally:
        w.stop()


def test_auto_ring_grows_when_the_gops_do(camvisor, tmp_path):
    """A camera measured in a quiet scene gets a small ring; when its GOPs grow past what the
    ring holds (a busy scene), the ring grows to hold them, so a new viewer still starts at a
    keyframe at once. The clip: 6 s of still bars (a few KiB per GOP), then 6 s of heavy
    noise (hundreds of KiB per 1 s GOP), looped by the file: source."""
    clip = tmp_path / "vbr.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                    "smptebars=size=640x480:rate=25:duration=6", "-f", "lavfi", "-i",
                    "testsrc2=size=640x480:rate=25:duration=6,noise=alls=30:allf=t",
                    "-filter_complex", "[0][1]concat=n=2:v=1[v]", "-map", "[v]",
                    "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-g", "25",
                    "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0", "-pix_fmt", "yuv420p",
                    str(clip)], check=True, timeout=120)
    cv = camvisor({"cam": f"url = file:{clip}\n"})
    wait_for(lambda: "fills over 90 % of it" in cv.logs(), 40, interval=0.2,
             what="the ring grown to the busy scene's GOPs")
    grown = re.findall(r"camera cam: a GOP of (\d+) KiB fills over 90 % of it: ring \d+ KiB -> (\d+) KiB",
                       cv.logs())
    assert grown, cv.logs()[-2000:]
    gop, ring = (int(v) for v in grown[0])
    assert ring >= 2 * gop - 64, (gop, ring)
    wait_for(lambda: (ring_bytes(cv, "cam") or 0) >= ring << 10, 10, what="the grown ring in use")
    assert ffprobe(cv.url("cam"))[0]["codec_name"] == "h264"
