"""RTSP restream of built-in and file cameras, read by ffprobe/ffmpeg and GStreamer."""
import socket
import subprocess
import time

from conftest import TESTSRC, ffmpeg_frames, ffprobe, wait_for
from gstclient import Watcher


def rtsp_request(port, text, timeout=5):
    """Sends raw bytes to the RTSP port and returns what came back before the server closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(text.encode() if isinstance(text, str) else text)
        data = b""
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data and b"Content-Length" not in data:
                    break
        except socket.timeout:
            pass
        return data.decode(errors="replace")


def test_testsrc_codec_and_size(camvisor):
    cv = camvisor({"demo": TESTSRC})
    streams = ffprobe(cv.url("demo"))
    video = [s for s in streams if s["codec_type"] == "video"]
    assert len(video) == 1
    assert video[0]["codec_name"] == "h264"
    assert (video[0]["width"], video[0]["height"]) == (320, 240)


def test_testsrc_h265(camvisor):
    cv = camvisor({"hevc": "url = testsrc://?width=320&height=240&fps=10&codec=h265\n"})
    streams = ffprobe(cv.url("hevc"))
    assert [s["codec_name"] for s in streams] == ["hevc"]


def test_ffmpeg_decodes_continuous_frames(camvisor):
    cv = camvisor({"demo": TESTSRC})
    took, err = ffmpeg_frames(cv.url("demo"), 75)
    # 75 frames at 25 fps: 3 s of live video after the cached GOP; generous for ASan.
    assert took < 15, f"75 frames took {took:.1f} s"
    assert "error" not in err.lower(), err


def test_gstreamer_rtspsrc_receives_steadily(camvisor):
    cv = camvisor({"demo": TESTSRC})
    w = Watcher(cv.url("demo")).start()
    try:
        wait_for(lambda: w.count() >= 10, 15, what="first frames at GStreamer")
        t0 = time.monotonic()
        time.sleep(3)
        got = w.frames_since(t0)
        assert got >= 50, f"only {got} frames in 3 s at 25 fps"
        assert w.max_gap(t0) < 0.5
    finally:
        w.stop()


def test_three_clients_one_camera_connection(camvisor):
    cv = camvisor({"demo": TESTSRC})
    ws = [Watcher(cv.url("demo")).start() for _ in range(3)]
    try:
        for w in ws:
            wait_for(lambda: w.count() >= 10, 20, what="frames at every client")
        # One worker serves them all: still exactly one worker process for the camera.
        workers = [c for c in cv.children().values() if "camvisor-worker" in c]
        assert workers == ["camvisor-worker demo"]
    finally:
        for w in ws:
            w.stop()


def test_new_client_starts_at_once(camvisor):
    # GOP of 4 s: without the keyframe cache a new client would wait up to 4 s.
    cv = camvisor({"slow": "url = testsrc://?width=320&height=240&fps=25&gop=100\n"})
    ffmpeg_frames(cv.url("slow"), 1)  # camera is up and has a keyframe
    time.sleep(2)
    took, _ = ffmpeg_frames(cv.url("slow"), 1)
    assert took < 2.5, f"first frame took {took:.2f} s with a 4 s GOP"


def test_query_filters(camvisor):
    cv = camvisor({"demo": TESTSRC})
    assert [s["codec_name"] for s in ffprobe(cv.url("demo", "video=h264"))] == ["h264"]
    assert [s["codec_name"] for s in ffprobe(cv.url("demo", "mp4"))] == ["h264"]
    reply = rtsp_request(cv.rtsp_port, f"DESCRIBE {cv.url('demo', 'video=h265')} RTSP/1.0\r\n"
                         "CSeq: 2\r\n\r\n")
    assert reply.startswith("RTSP/1.0 404"), reply


def test_unknown_camera_404_and_malformed_400(camvisor):
    cv = camvisor({"demo": TESTSRC})
    reply = rtsp_request(cv.rtsp_port, f"DESCRIBE {cv.url('nope')} RTSP/1.0\r\nCSeq: 1\r\n\r\n")
    assert reply.startswith("RTSP/1.0 404"), reply
    reply = rtsp_request(cv.rtsp_port, b"\x00\x01garbage\r\n\r\n")
    assert reply.startswith("RTSP/1.0 400"), reply
    reply = rtsp_request(cv.rtsp_port, "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: -5\r\n\r\n")
    assert reply.startswith("RTSP/1.0 400"), reply
    pid = cv.rtsp_pid()
    # The process survived all of it and still serves.
    assert [s["codec_name"] for s in ffprobe(cv.url("demo"))] == ["h264"]
    assert cv.rtsp_pid() == pid


def test_file_source_loops(camvisor, tmp_path):
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "2",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", str(clip)],
        check=True, timeout=60)
    cv = camvisor({"clip": f"url = file:{clip}\n"})
    streams = ffprobe(cv.url("clip"))
    assert sorted(s["codec_name"] for s in streams) == ["aac", "h264"]
    # 100 frames is 4 s: the 2 s clip must have looped at least once.
    took, _ = ffmpeg_frames(cv.url("clip"), 100)
    assert took < 20


def test_video_variant_made_while_wanted(camvisor, tmp_path):
    """`?video` (video, no audio) is the camera's `video` variant: a ring of its own that the
    worker fills while someone watches it and stops a few seconds after the last viewer leaves,
    the path transcoded variants will take. Viewers of the camera's own stream are untouched."""
    clip = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000", "-t", "2",
         "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-c:a", "aac", str(clip)],
        check=True, timeout=60)
    cv = camvisor({"clip": f"url = file:{clip}\n"})
    assert sorted(s["codec_name"] for s in ffprobe(cv.url("clip"))) == ["aac", "h264"]
    assert "variant video" not in cv.logs()
    assert [s["codec_name"] for s in ffprobe(cv.url("clip", "video"))] == ["h264"]
    took, _ = ffmpeg_frames(cv.url("clip", "video=h264"), 50)
    assert took < 15
    log = cv.logs()
    assert "variant video wanted, starting it" in log
    assert "variant video: producing (1 tracks" in log
    # Gone a few seconds after the last viewer.
    wait_for(lambda: "variant video: stopped" in cv.logs(), 15, what="the variant stopped")
    assert "variant video unused for 3000 ms, stopped" in cv.logs()
    # And made again on demand; the camera's own stream never stopped.
    assert [s["codec_name"] for s in ffprobe(cv.url("clip", "video"))] == ["h264"]
    assert cv.logs().count("variant video wanted, starting it") == 2
    assert sorted(s["codec_name"] for s in ffprobe(cv.url("clip"))) == ["aac", "h264"]
