"""The worker's own RTSP/RTP camera client (worker/src-rtsp.c) against a real camera: GStreamer's
RTSP server in its own process (camera.py), read back through camvisor's RTSP restream by
ffprobe/ffmpeg and GStreamer's rtspsrc."""
import re
import time

import pytest

from camera import Camera
from conftest import ffmpeg_frames, ffprobe, free_port, wait_for
from gstclient import Watcher


@pytest.fixture
def camera():
    """Factory: camera(**Camera kwargs) -> started Camera, killed at teardown."""
    cams = []

    def make(start=True, **kw):
        cam = Camera(**kw)
        cams.append(cam)
        return cam.start() if start else cam

    yield make
    for cam in cams:
        cam.resume() if cam.proc and cam.proc.poll() is None else None
        cam.stop()


def worker_log(cv):
    return "\n".join(l for l in cv.logs().splitlines() if "[worker " in l)


def streams_by_type(streams):
    return {s["codec_type"]: s for s in streams}


def assert_decodes_cleanly(url, frames=50):
    took, err = ffmpeg_frames(url, frames)
    # 50 frames at 25 fps after the cached GOP: ~2 s of live video; generous for ASan.
    assert took < 15, f"{frames} frames took {took:.1f} s"
    assert err.strip() == "", err


def test_h264_pcma(camvisor, camera):
    cam = camera(codec="h264", audio="pcma")
    cv = camvisor({"door": f"url = {cam.url}\n"})
    s = streams_by_type(ffprobe(cv.url("door")))
    assert s["video"]["codec_name"] == "h264"
    assert (s["video"]["width"], s["video"]["height"]) == (320, 240)
    assert s["audio"]["codec_name"] == "pcm_alaw"
    assert_decodes_cleanly(cv.url("door"))
    assert re.search(r"streaming h264\+pcm_alaw from rtsp://127\.0\.0\.1:\d+/cam over tcp",
                     worker_log(cv))


def test_h265_aac(camvisor, camera):
    cam = camera(codec="h265", audio="aac")
    cv = camvisor({"yard": f"url = {cam.url}\n"})
    s = streams_by_type(ffprobe(cv.url("yard")))
    assert s["video"]["codec_name"] == "hevc"
    assert (s["video"]["width"], s["video"]["height"]) == (320, 240)
    assert s["audio"]["codec_name"] == "aac"
    took, err = ffmpeg_frames(cv.url("yard"), 25)
    assert took < 15, took


def test_opus_and_pcmu(camvisor, camera):
    opus = camera(audio="opus")
    pcmu = camera(audio="pcmu")
    cv = camvisor({"a": f"url = {opus.url}\n", "b": f"url = {pcmu.url}\n"})
    assert streams_by_type(ffprobe(cv.url("a")))["audio"]["codec_name"] == "opus"
    assert streams_by_type(ffprobe(cv.url("b")))["audio"]["codec_name"] == "pcm_mulaw"


def test_udp_transport(camvisor, camera):
    cam = camera(codec="h264", audio="pcma")
    cv = camvisor({"udp": f"url = {cam.url}\ntransport = udp\n"})
    s = streams_by_type(ffprobe(cv.url("udp")))
    assert s["video"]["codec_name"] == "h264"
    assert s["audio"]["codec_name"] == "pcm_alaw"
    assert_decodes_cleanly(cv.url("udp"))
    log = worker_log(cv)
    assert "over udp" in log, log
    assert "refuses UDP" not in log


def test_rtsps(camvisor, camera):
    cam = camera(tls=True)
    assert cam.url.startswith("rtsps://")
    cv = camvisor({"tls": f"url = {cam.url}\n"})
    assert streams_by_type(ffprobe(cv.url("tls")))["video"]["codec_name"] == "h264"
    assert "over tcp" in worker_log(cv)


SECRET = "Pa55-w0rd-7f3a9c"


def test_basic_auth_in_url(camvisor, camera):
    cam = camera(user="admin", password=SECRET)
    url = cam.url.replace("rtsp://", f"rtsp://admin:{SECRET}@")
    cv = camvisor({"auth": f"url = {url}\n"})
    assert streams_by_type(ffprobe(cv.url("auth")))["video"]["codec_name"] == "h264"
    assert SECRET not in cv.logs()


def test_digest_auth_with_username_and_password_file(camvisor, camera, tmp_path):
    cam = camera(user="admin", password=SECRET, digest=True)
    (tmp_path / "secret").write_text(SECRET + "\n")
    body = f"url = {cam.url}\nusername = admin\npassword_file = {tmp_path / 'secret'}\n"
    cv = camvisor({"auth": body})
    assert streams_by_type(ffprobe(cv.url("auth")))["video"]["codec_name"] == "h264"
    assert SECRET not in cv.logs()


def test_basic_auth_with_username_and_password_file(camvisor, camera, tmp_path):
    cam = camera(user="admin", password=SECRET)
    (tmp_path / "secret").write_text(SECRET + "\n")
    body = f"url = {cam.url}\nusername = admin\npassword_file = {tmp_path / 'secret'}\n"
    cv = camvisor({"auth": body})
    assert streams_by_type(ffprobe(cv.url("auth")))["video"]["codec_name"] == "h264"


@pytest.mark.parametrize("digest", [False, True], ids=["basic", "digest"])
def test_wrong_password_is_an_auth_error_and_stays_secret(camvisor, camera, digest):
    wrong = "Wr0ng-" + SECRET[::-1]
    cam = camera(user="admin", password=SECRET, digest=digest)
    url = cam.url.replace("rtsp://", f"rtsp://admin:{wrong}@")
    cv = camvisor({"auth": f"url = {url}\n"})
    wait_for(lambda: "authentication failed" in worker_log(cv), 10, what="an auth error")
    time.sleep(2)  # a few retries, each of which must stay quiet about the password
    log = cv.logs()
    line = next(l for l in log.splitlines() if "authentication failed" in l)
    assert " ERR " in line, line
    assert "rejected the credentials" in line, line
    assert f"rtsp://127.0.0.1:{cam.port}/cam" in line, line  # the URL, without credentials
    assert wrong not in log and SECRET not in log
    # Retried with backoff (0.5 s, 1 s, ...), each retry quiet after the first few.
    assert 2 <= cam.connections() <= 5, cam.connections()
    assert cam.describes() == 0


def test_missing_credentials_is_an_auth_error(camvisor, camera):
    cam = camera(user="admin", password=SECRET)
    cv = camvisor({"auth": f"url = {cam.url}\n"})
    wait_for(lambda: "none are configured" in worker_log(cv), 10, what="an auth error")


def test_two_slices_per_frame_decode_cleanly(camvisor, camera):
    cam = camera(slices=2)
    cv = camvisor({"sliced": f"url = {cam.url}\n"})
    assert_decodes_cleanly(cv.url("sliced"))


def test_parameter_sets_only_in_sdp_decode_cleanly(camvisor, camera):
    cam = camera(sdp_only_params=True)
    cv = camvisor({"sdp": f"url = {cam.url}\n"})
    s = streams_by_type(ffprobe(cv.url("sdp")))
    assert (s["video"]["width"], s["video"]["height"]) == (320, 240)
    assert_decodes_cleanly(cv.url("sdp"))


def test_three_viewers_one_camera_connection(camvisor, camera):
    cam = camera()
    cv = camvisor({"hall": f"url = {cam.url}\nmode = always\n"})
    ws = [Watcher(cv.url("hall")).start() for _ in range(3)]
    try:
        for w in ws:
            wait_for(lambda: w.count() >= 25, 20, what="frames at every viewer")
        assert cam.connections() == 1
        assert cam.describes() == 1
    finally:
        for w in ws:
            w.stop()


def test_camera_restart_resumes_for_a_connected_viewer(camvisor, camera):
    port = free_port()
    cam = camera(port=port)
    cv = camvisor({"porch": f"url = {cam.url}\n"})
    w = Watcher(cv.url("porch")).start()
    try:
        wait_for(lambda: w.count() >= 25, 20, what="first frames")
        cam.kill()
        wait_for(lambda: "camera lost" in worker_log(cv), 10, what="the loss to be noticed")
        time.sleep(1)
        gone = w.count()
        time.sleep(1)
        assert w.count() - gone <= 1, "frames while the camera was away?"
        cam2 = camera(port=port, start=False)
        t0 = time.monotonic()
        cam2.start()
        wait_for(lambda: w.frames_since(t0) >= 25, 15, what="frames after the camera returned")
        with w.lock:
            took = min(x for x in w.times if x >= t0) - t0
        # Camera start-up (~1.5 s) plus at most one backoff step (the camera was away ~2 s).
        assert took < 10, f"first frame {took:.1f} s after the camera restarted"
        # Same viewer session: the watcher never reconnected to camvisor.
        assert len(re.findall(r"playing porch", cv.logs())) == 1
    finally:
        w.stop()


def test_camera_down_at_start_is_picked_up(camvisor, camera):
    port = free_port()
    cv = camvisor({"late": f"url = rtsp://127.0.0.1:{port}/cam\nmode = always\n"})
    wait_for(lambda: "Connection refused" in worker_log(cv), 10, what="the first failed attempt")
    time.sleep(3)
    t0 = time.monotonic()
    camera(port=port)
    wait_for(lambda: "streaming h264" in worker_log(cv), 15, what="the camera to be picked up")
    took = time.monotonic() - t0
    assert took < 12, took
    assert streams_by_type(ffprobe(cv.url("late")))["video"]["codec_name"] == "h264"
    # Quiet retries: a few warnings, not one per attempt.
    assert worker_log(cv).count("Connection refused") <= 4


def test_stalled_camera_is_detected_and_recovered(camvisor, camera):
    cam = camera()
    cv = camvisor({"stall": f"url = {cam.url}\n"})
    w = Watcher(cv.url("stall")).start()
    try:
        wait_for(lambda: w.count() >= 25, 20, what="first frames")
        t0 = time.monotonic()
        cam.pause()
        wait_for(lambda: "no media from the camera" in worker_log(cv), 10,
                 what="the stall to be detected")
        took = time.monotonic() - t0
        assert 4 <= took < 8, f"stall detected after {took:.1f} s"
        time.sleep(1)
        cam.resume()
        t1 = time.monotonic()
        wait_for(lambda: w.frames_since(t1) >= 25, 25, what="frames after the camera resumed")
    finally:
        w.stop()


def test_sigterm_mid_connect_is_prompt(camvisor):
    # A camera that accepts TCP and never answers: the worker sits waiting for OPTIONS.
    import socket
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    try:
        cv = camvisor({"mute": f"url = rtsp://127.0.0.1:{port}/cam\nmode = always\n"})
        wait_for(lambda: cv.worker_pid("mute"), 10, what="the worker")
        time.sleep(1)
        t0 = time.monotonic()
        assert cv.stop() == 0
        assert time.monotonic() - t0 < 2
    finally:
        srv.close()


@pytest.fixture
def proxy():
    """Factory: proxy(upstream_port, **RtspProxy kwargs) -> started RtspProxy, stopped at teardown."""
    from rtspproxy import RtspProxy
    made = []

    def make(port, **kw):
        p = RtspProxy(port, **kw).start()
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def test_parameter_sets_only_in_band(camvisor, camera, proxy):
    # The SDP has no sprop-parameter-sets and the first 0.3 s of the stream are lost: the worker
    # sees P-frames before any SPS/PPS and must hold video back until the next IDR brings them.
    cam = camera()
    px = proxy(cam.port, strip_sprop=True, skip_first=0.3)
    cv = camvisor({"inband": f"url = {px.url}\n"})
    s = streams_by_type(ffprobe(cv.url("inband")))
    assert (s["video"]["width"], s["video"]["height"]) == (320, 240)
    assert px.stripped >= 1, "the SDP still had sprop-parameter-sets"
    assert px.skipped > 0
    assert "holding video back until the camera sends its parameter sets" in worker_log(cv)
    assert_decodes_cleanly(cv.url("inband"))


def test_malformed_stream_reconnects_without_crashing(camvisor, camera, proxy):
    cam = camera()
    px = proxy(cam.port, garbage_after=1.0)
    cv = camvisor({"junk": f"url = {px.url}\n"})
    wait_for(lambda: cv.worker_pid("junk"), 10, what="the worker")
    pid = cv.worker_pid("junk")
    wait_for(lambda: "malformed data from the camera" in worker_log(cv), 15,
             what="the malformed stream to be noticed")
    # Reconnected (and streaming again) by the same worker process: nothing crashed.
    wait_for(lambda: worker_log(cv).count("streaming h264") >= 2, 15, what="a reconnection")
    assert px.connections >= 2 and px.injected >= 1
    assert cv.worker_pid("junk") == pid


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_session_kept_alive(camvisor, camera, transport):
    # The camera expires sessions idle for 4 s; keep-alives every timeout/2 (and RTCP receiver
    # reports) must hold ours open: no expiry, no reconnect, no gap. (gst-rtsp-server does not
    # expire a TCP session while its connection is up, so over TCP this checks the other half:
    # keep-alive answers arriving between interleaved RTP frames are parsed and dropped cleanly.)
    cam = camera(session_timeout=4)
    cv = camvisor({"ka": f"url = {cam.url}\ntransport = {transport}\n"})
    w = Watcher(cv.url("ka")).start()
    try:
        wait_for(lambda: w.count() >= 10, 20, what="first frames")
        t0 = time.monotonic()
        time.sleep(10)
        assert cam.expired() == 0
        assert cam.connections() == 1
        assert w.max_gap(t0) < 1.0
        assert "camera lost" not in worker_log(cv)
    finally:
        w.stop()
