"""A camera's audio through camvisor-http's fMP4 (common/mux/fmp4.c): G.711 from a real
RTSP camera (GStreamer's alawenc, camera.py) re-encoded as FLAC, Opus as it comes. Checked as
a player sees it: the `mse` reply's codecs, audio fragments over /api/ws, ffprobe/ffmpeg on
/api/stream.mp4, and headless Chromium playing stream.html with its audio decoded."""
import json
import struct
import subprocess
import time


from conftest import wait_for
from test_http import boxes, chromium, streaming, wait_playing
from wsclient import WsClient

# What Chromium's go2rtc player offers, plus the audio this test wants back.
BROWSER_CODECS = "avc1.640029,avc1.64002A,mp4a.40.2,flac,opus"


def track_ids(frag):
    """The track_IDs of a moof+mdat's trafs."""
    ids, off = [], 0
    for typ, size in boxes(frag):
        if typ == "moof":
            inner = off + 8
            while inner + 8 <= off + size:
                isize, ityp = struct.unpack(">I4s", frag[inner:inner + 8])
                if isize < 8:
                    break
                if ityp == b"traf":
                    # tfhd is a traf's first box: size, type, version+flags, track_ID
                    ids.append(struct.unpack(">I", frag[inner + 20:inner + 24])[0])
                inner += isize
        off += size
    return ids


def mse_audio(cv, cam, codec, entry):
    """The `mse` reply names the codec, the init segment has its sample entry, and audio
    fragments (track 2) come with the video's."""
    ws = WsClient(cv.api_port, f"/api/ws?src={cam}")
    assert ws.status == 101, ws.head
    ws.send({"type": "mse", "value": BROWSER_CODECS})
    msg = ws.recv_json()
    assert msg["type"] == "mse", msg
    codecs = msg["value"].split('codecs="')[1].rstrip('"').split(",")
    assert codecs[0].startswith("avc1.") and codecs[1:] == [codec], msg
    op, init = ws.recv()
    assert op == 2 and [b for b, _ in boxes(init)][:2] == ["ftyp", "moov"]
    assert entry in init
    tracks = {1: 0, 2: 0}
    t0 = time.monotonic()
    while time.monotonic() - t0 < 3:
        op, frag = ws.recv()
        assert op == 2
        for t in track_ids(frag):
            tracks[t] += 1
    ws.close()
    assert tracks[1] >= 40 and tracks[2] >= 5, tracks


def probe(cv, cam):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels",
         "-of", "json", cv.http_url(f"/api/stream.mp4?src={cam}")],
        capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["streams"]


def chromium_plays_audio(cv, cam):
    """stream.html over MSE plays, time advances, and Chromium's audio decoder gets bytes."""
    drv = chromium()
    try:
        drv.get(cv.http_url(f"/stream.html?src={cam}&mode=mse"))  # MSE: its audio is the point
        wait_playing(drv, "video", timeout=30)
        decoded = wait_for(lambda: drv.execute_script(
            "const v = document.querySelector('video');"
            "return v && v.webkitAudioDecodedByteCount;"), 15, interval=0.3,
            what="Chromium decoding the audio")
        assert decoded > 0
        logs = drv.get_log("browser") if hasattr(drv, "get_log") else []
        errors = [e for e in logs if e.get("level") == "SEVERE" and "favicon" not in e["message"]]
        assert not errors, errors
    finally:
        drv.quit()


def test_pcma_as_flac(camvisor, camera):
    cam = camera(codec="h264", audio="pcma")
    cv = camvisor({"door": f"url = {cam.url}\n"})
    wait_for(lambda: streaming(cv, "door"), 20, what="door streaming")
    mse_audio(cv, "door", "flac", b"dfLa")
    # A browser without FLAC in its MSE but with AAC gets the camera's audio as AAC (the worker's
    # aac variant); one with neither gets the video alone (the camera's video variant), as
    # go2rtc leaves out audio it cannot play, instead of a MIME its SourceBuffer refuses.
    for codecs, want in (("avc1.640029,mp4a.40.2", "avc1.42C00D,mp4a.40.2"),
                         ("avc1.640029,opus", "avc1.42C00D")):
        ws = WsClient(cv.api_port, "/api/ws?src=door")
        ws.send({"type": "mse", "value": codecs})
        msg = ws.recv_json()
        assert msg["type"] == "mse" and msg["value"].split('codecs="')[1].rstrip('"') == want, msg
        op, init = ws.recv()
        assert b"dfLa" not in init and (b"esds" in init) == ("mp4a" in want)
        ws.close()
    streams = probe(cv, "door")
    assert [s["codec_name"] for s in streams] == ["h264", "flac"], streams
    assert (streams[1]["sample_rate"], streams[1]["channels"]) == ("8000", 1)
    # ffmpeg decodes 2 s of the FLAC without a complaint.
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", cv.http_url("/api/stream.mp4?src=door"), "-map", "0:a",
         "-t", "2", "-f", "null", "-"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    chromium_plays_audio(cv, "door")


def test_opus_passthrough(camvisor, camera):
    cam = camera(codec="h264", audio="opus")
    cv = camvisor({"door": f"url = {cam.url}\n"})
    wait_for(lambda: streaming(cv, "door"), 20, what="door streaming")
    mse_audio(cv, "door", "opus", b"dOps")
    streams = probe(cv, "door")
    assert [s["codec_name"] for s in streams] == ["h264", "opus"], streams
    assert streams[1]["sample_rate"] == "48000"
    chromium_plays_audio(cv, "door")
