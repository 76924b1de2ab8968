"""Config checking, on-demand cameras and SIGHUP reload."""
import os
import signal
import subprocess
import time

import pytest

from conftest import BUILD, TESTSRC, ffmpeg_frames, ffprobe, wait_for
from gstclient import Watcher


def check_config(path):
    return subprocess.run([os.path.join(BUILD, "camvisor"), "--check-config", "-c", str(path)],
                          capture_output=True, text=True, timeout=10)


def test_check_config_good_and_bad(tmp_path):
    (tmp_path / "cameras.d").mkdir()
    (tmp_path / "camvisor.ini").write_text("[rtsp]\nlisten = 127.0.0.1:18554\n")
    (tmp_path / "cameras.d" / "door.ini").write_text(
        "[camera]\nurl = rtsp://admin:s3cret@10.0.0.5/stream1\n")
    ok = check_config(tmp_path / "camvisor.ini")
    assert ok.returncode == 0, ok.stderr
    assert "s3cret" not in ok.stdout + ok.stderr  # secrets are redacted everywhere printed
    assert "door" in ok.stdout

    (tmp_path / "cameras.d" / "door.ini").write_text("[camera]\nurl = rtsp://x/y\nmode = sometimes\n")
    bad = check_config(tmp_path / "camvisor.ini")
    assert bad.returncode != 0
    assert "door.ini:3" in bad.stderr, bad.stderr


def test_oversized_config_file_is_refused_at_once(tmp_path):
    """A stray 1 GiB file in cameras.d was once read whole (7-10 s with the supervisor blocked).
    Files over 256 KiB are refused without reading them; a sparse file costs no disk here."""
    (tmp_path / "cameras.d").mkdir()
    (tmp_path / "camvisor.ini").write_text("[rtsp]\nlisten = 127.0.0.1:18554\n")
    with open(tmp_path / "cameras.d" / "huge.ini", "wb") as f:
        f.write(b"[camera]\nurl = testsrc://\n")
        f.truncate(1 << 30)
    t = time.monotonic()
    out = check_config(tmp_path / "camvisor.ini")
    assert time.monotonic() - t < 2
    assert out.returncode != 0
    assert "huge.ini" in out.stderr and "larger than a config file can be" in out.stderr, out.stderr


def test_bad_config_refuses_to_start(tmp_path):
    (tmp_path / "camvisor.ini").write_text("[rtsp]\nlisten = 127.0.0.1:18554\n[bogus]\n")
    out = subprocess.run([os.path.join(BUILD, "camvisor"), "-c", str(tmp_path / "camvisor.ini")],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode != 0
    assert "camvisor.ini:3" in out.stderr, out.stderr


def rings_held(cv):
    """Names of the rings the supervisor holds (memfd:<camera>)."""
    d = f"/proc/{cv.proc.pid}/fd"
    names = []
    for fd in os.listdir(d):
        try:
            target = os.readlink(f"{d}/{fd}")
        except OSError:
            continue
        if target.startswith("/memfd:"):
            names.append(target[len("/memfd:"):].split(" ")[0])
    return sorted(names)


def test_on_demand_starts_on_use_and_stops_when_idle(camvisor):
    """An on-demand camera holds no worker and no ring while nobody watches (500 idle ones once
    held 3 GiB of rings): both come with the first viewer and go after idle_timeout."""
    cv = camvisor({"lazy": TESTSRC + "mode = on-demand\nidle_timeout = 2\n", "always": TESTSRC})
    time.sleep(1)
    assert cv.worker_pid("lazy") is None, "on-demand camera started without a viewer"
    assert rings_held(cv) == ["always"]
    t = time.monotonic()
    streams = ffprobe(cv.url("lazy"))
    assert streams[0]["codec_name"] == "h264"
    assert time.monotonic() - t < 10
    wait_for(lambda: cv.worker_pid("lazy") is None, 2 + 5, what="idle stop")
    assert rings_held(cv) == ["always"]
    # And again: a new ring for the next viewer.
    assert ffprobe(cv.url("lazy"))[0]["codec_name"] == "h264"


def test_reload_adds_removes_and_keeps_untouched(camvisor):
    cv = camvisor({"keep": TESTSRC, "gone": TESTSRC})
    w = Watcher(cv.url("keep")).start()
    try:
        wait_for(lambda: w.count() >= 10, 20, what="frames")
        keep_pid = cv.worker_pid("keep")
        (cv.cams_dir / "gone.ini").unlink()
        cv.write_camera("new", TESTSRC)
        t = time.monotonic()
        cv.signal(signal.SIGHUP)
        wait_for(lambda: cv.worker_pid("new"), 5, what="the added camera's worker")
        wait_for(lambda: cv.worker_pid("gone") is None, 5, what="the removed camera to stop")
        assert ffprobe(cv.url("new"))[0]["codec_name"] == "h264"
        # A changed camera restarts with its new settings.
        new_pid = cv.worker_pid("new")
        cv.write_camera("new", "url = testsrc://?width=160&height=120&fps=10\n")
        cv.signal(signal.SIGHUP)
        wait_for(lambda: cv.worker_pid("new") not in (None, new_pid), 5, what="changed restart")
        wait_for(lambda: ffprobe(cv.url("new"))[0]["width"] == 160, 10, what="new settings")
        time.sleep(1)
        assert cv.worker_pid("keep") == keep_pid, "an untouched camera was restarted"
        assert w.max_gap(t) < 0.5, "an untouched camera's viewer saw a gap"
        # A broken edit is refused whole; the running cameras carry on.
        cv.write_camera("broken", "url = testsrc://\nfps = 5\n")
        cv.signal(signal.SIGHUP)
        wait_for(lambda: "reload failed" in cv.logs(), 5, what="the refused reload")
        assert cv.worker_pid("new") and cv.worker_pid("keep") == keep_pid
    finally:
        w.stop()


def test_stop_while_children_start_is_clean(camvisor):
    """SIGTERM at once, while the children are still setting up: each takes it as a stop (exit
    code 0) once its handler is in place; none is killed by it halfway through its start."""
    cv = camvisor({f"cam{i}": TESTSRC for i in range(4)})
    cv.signal(signal.SIGTERM)
    assert cv.proc.wait(10) == 0
    stops = [l for l in cv.logs().splitlines() if " stopped (" in l]
    assert len(stops) == 7, cv.logs()  # 4 workers, rtsp, http, webrtc
    assert all("(exit code 0)" in l for l in stops), stops


@pytest.mark.may_die("worker hung")
def test_hung_worker_is_killed_when_its_camera_goes(camvisor):
    cv = camvisor({"keep": TESTSRC, "hung": TESTSRC})
    wait_for(lambda: cv.worker_pid("hung") and cv.worker_pid("keep"), 10, what="both workers")
    hung, keep = cv.worker_pid("hung"), cv.worker_pid("keep")
    os.kill(hung, signal.SIGSTOP)  # a worker that can no longer take SIGTERM
    (cv.cams_dir / "hung.ini").unlink()
    cv.signal(signal.SIGHUP)
    # The supervisor waits 4 s after its SIGTERM, then kills.
    wait_for(lambda: cv.worker_pid("hung") is None, 10, what="the hung worker to be killed")
    assert "did not stop in time, killing" in cv.logs()
    assert cv.worker_pid("keep") == keep


@pytest.mark.may_die("worker dead")
def test_on_demand_camera_that_never_comes_gets_503(camvisor, tmp_path):
    cv = camvisor({"dead": f"url = file:{tmp_path}/missing.mp4\nmode = on-demand\n"})
    from test_rtsp_server import RawClient
    c = RawClient(cv.rtsp_port)
    c.s.settimeout(20)
    t = time.monotonic()
    r = c.request("DESCRIBE", cv.url("dead"))
    took = time.monotonic() - t
    assert r.startswith("RTSP/1.0 503"), r
    assert "X-Reason:" in r
    assert 9 <= took < 15, f"503 after {took:.1f} s"
