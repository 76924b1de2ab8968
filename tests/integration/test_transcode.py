"""Transcoding in the worker (issue 13): an H.265 camera watched by clients that cannot decode
H.265 gets the worker's h264 variant, decoded and encoded once however many watch. Real peers:
a GStreamer H.265 RTSP camera, aiortc over WebRTC, ffprobe over RTSP and MP4, the MSE exchange
of go2rtc's player over /api/ws."""
import json
import os
import re
import signal
import urllib.request

import pytest

from conftest import ffmpeg_frames, ffprobe, wait_for
from test_http import H265SRC, get_json
from test_webrtc import play_json
from wsclient import WsClient


def producer(cv, name):
    return get_json(cv, f"/api/streams?src={name}")["producers"][0]


def is_h265(cv, name):
    return "H265" in "".join(producer(cv, name).get("medias", []))


@pytest.mark.may_die("worker garage")
def test_h265_camera_two_webrtc_viewers_one_encoder(camvisor, camera):
    """The seed's story: an H.265 camera, two WebRTC viewers that offer no H.265 (aiortc), both
    decode H.264 of the camera's size from one decoder and one encoder; the worker killed, both
    play on in the same session; both gone, the variant stops."""
    cam = camera(codec="h265", width=320, height=240, gop=25)
    cv = camvisor({"garage": f"url = {cam.url}\n", "door": H265SRC})
    a, sdp = play_json(cv, "garage")
    b, _ = play_json(cv, "garage")
    try:
        assert re.search(r"a=rtpmap:\d+ H264/90000", sdp), sdp
        assert a.wait_frames(25, 20) and b.wait_frames(25, 20), (a.count(), b.count())
        assert a.frames[-1][1:] == (320, 240) and b.frames[-1][1:] == (320, 240)
        log = cv.logs()
        assert log.count("variant h264: transcoding to h264") == 1, log[-3000:]
        assert re.search(r"decoding the camera's hevc on software", log), log[-3000:]
        wait_for(lambda: producer(cv, "garage").get("encoders") == 1, 10,
                 what="one encoder in /api/streams")
        p = producer(cv, "garage")
        assert p["transcode"].startswith("h264 320x240; decoder: software"), p

        # The worker killed: a new one transcodes again, both sessions play on.
        os.kill(cv.worker_pid("garage"), signal.SIGKILL)
        na, nb = a.count(), b.count()
        assert a.wait_frames(na + 25, 20) and b.wait_frames(nb + 25, 20), "no picture after"
        assert cv.logs().count("variant h264: transcoding to h264") == 2
    finally:
        a.close()
        b.close()
    wait_for(lambda: "variant h264: stopped" in cv.logs(), 20, what="the variant stopped")
    wait_for(lambda: "transcode" not in producer(cv, "garage"), 5, what="no transcode reported")


def test_rtsp_and_mp4_video_h264_of_an_h265_camera(camvisor):
    """go2rtc's filters reach the variant: ?video=h264 over RTSP and stream.mp4 give H.264; the
    camera's own codec and no filter give H.265, with no transcoder started."""
    cv = camvisor({"garage": H265SRC})
    wait_for(lambda: is_h265(cv, "garage"), 15, what="the camera's codec known")
    assert [s["codec_name"] for s in ffprobe(cv.url("garage"))] == ["hevc"]
    assert [s["codec_name"] for s in ffprobe(cv.url("garage", "video=h265"))] == ["hevc"]
    assert "variant h264" not in cv.logs()
    got = ffprobe(cv.url("garage", "video=h264"))
    assert [(s["codec_name"], s["width"], s["height"]) for s in got] == [("h264", 320, 240)], got
    url = cv.http_url("/api/stream.mp4?src=garage&video=h264&duration=2")
    got = ffprobe(url)
    assert [(s["codec_name"], s["width"]) for s in got] == [("h264", 320)], got
    assert cv.logs().count("variant h264: transcoding to h264") == 1


def mse_answer(cv, codecs, camera="garage"):
    ws = WsClient(cv.api_port, f"/api/ws?src={camera}")
    try:
        ws.send({"type": "mse", "value": codecs})
        return ws.recv_json()
    finally:
        ws.close()


def test_mse_codec_list_decides(camvisor):
    """go2rtc's player sends the codecs its MediaSource plays: without hvc1 an H.265 camera
    comes as H.264 (the worker's variant), with hvc1 as it is, with neither go2rtc's error."""
    cv = camvisor({"garage": H265SRC})
    wait_for(lambda: is_h265(cv, "garage"), 15, what="the camera's codec known")
    m = mse_answer(cv, "avc1.640029,avc1.64002A,mp4a.40.2,opus")
    assert m["type"] == "mse" and "avc1." in m["value"] and "hvc1" not in m["value"], m
    m = mse_answer(cv, "avc1.640029,hvc1.1.6.L153.B0,mp4a.40.2")
    assert m["type"] == "mse" and "hvc1" in m["value"], m
    m = mse_answer(cv, "vp09.00.10.08,opus")
    assert m == {"type": "error", "value": "mse: codecs not matched"} or \
        "codecs not matched" in json.dumps(m), m


def test_hwaccel_forced_without_the_device_falls_back_to_software(camvisor):
    """hwaccel = nvdec and vaapi on a machine without them: one line each says why, pictures come
    from the software decoder (a snapshot, which uses the same decoder)."""
    if os.path.exists("/dev/nvidia0") or (os.path.isdir("/dev/dri") and any(
            n.startswith("renderD") for n in os.listdir("/dev/dri"))):
        pytest.skip("this machine has a GPU: the fallback is not what happens here")
    cv = camvisor({"n": H265SRC + "hwaccel = nvdec\n", "v": H265SRC + "hwaccel = vaapi\n"})
    for name, hw in (("n", "nvdec"), ("v", "vaapi")):
        with urllib.request.urlopen(cv.http_url(f"/api/frame.jpeg?src={name}"), timeout=20) as r:
            assert r.status == 200 and r.read()[:2] == b"\xff\xd8"
        lines = [ln for ln in cv.logs().splitlines()
                 if f"[worker {name}]" in ln and "decoding the camera's" in ln]
        assert len(lines) == 1 and f"on software ({hw}: no " in lines[0], lines
        other = "vaapi" if hw == "nvdec" else "nvdec"
        assert f"{other}:" not in lines[0], lines  # only the one asked for was tried
    assert "Cannot load" not in cv.logs()  # FFmpeg's own probing noise is not logged


def test_max_transcodes_refuses_with_a_reason(camvisor):
    """[server] max_transcodes = 1: while one camera's transcode runs, a second camera's is
    refused and the client hears why (go2rtc's player then falls back to MJPEG); a second viewer
    of the first shares its encoder."""
    cv = camvisor({"garage": H265SRC, "b": H265SRC}, server_extra="max_transcodes = 1\n")
    for name in ("garage", "b"):
        wait_for(lambda: is_h265(cv, name), 15, what="the camera's codec known")
    codecs = "avc1.640029,mp4a.40.2"
    first = WsClient(cv.api_port, "/api/ws?src=garage")
    try:
        first.send({"type": "mse", "value": codecs})
        assert "avc1" in first.recv_json()["value"]
        assert "avc1" in mse_answer(cv, codecs)["value"]  # a second viewer: no new transcode
        ws = WsClient(cv.api_port, "/api/ws?src=b")
        try:
            ws.send({"type": "mse", "value": codecs})
            try:
                m = ws.recv_json()
            except ConnectionError as e:
                m = repr(e)
        finally:
            ws.close()
        assert isinstance(m, dict) and m["type"] == "error" and "max_transcodes" in m["value"], \
            (m, cv.logs()[-3000:])
        assert cv.logs().count("transcoding to h264") == 1
    finally:
        first.close()


HA_WS_JS = """
const done = arguments[arguments.length - 1];
const pc = new RTCPeerConnection();
pc.addTransceiver('video', {direction: 'recvonly'});
pc.addTransceiver('audio', {direction: 'recvonly'});
window.haPc = pc;
const ws = new WebSocket(new URL('api/ws?src=garage', location.href).href.replace(/^http/, 'ws'));
ws.onmessage = ev => {
  const m = JSON.parse(ev.data);
  if (m.type !== 'webrtc') { done({error: ev.data}); return; }
  pc.setRemoteDescription(m.value).then(() => done({ok: true}), e => done({error: String(e)}));
};
ws.onopen = () => pc.createOffer().then(o => pc.setLocalDescription(o)).then(() =>
  ws.send(JSON.stringify({type: 'webrtc', value: {type: 'offer', sdp: pc.localDescription.sdp}})));
"""

HA_STATS_JS = """
const done = arguments[arguments.length - 1];
window.haPc.getStats().then(r => {
  const out = {};
  r.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video')
    Object.assign(out, {frames: s.framesDecoded || 0, width: s.frameWidth,
                        height: s.frameHeight, codec: s.codecId}); });
  r.forEach(s => { if (s.type === 'codec' && s.id === out.codec) out.mime = s.mimeType; });
  done(out);
});
"""


@pytest.mark.may_die("worker garage")
def test_seed_story_two_chromium_tabs_over_home_assistants_ws(camvisor, camera):
    """go2rtc's crash, replayed: an H.265 GStreamer camera watched in two Chromium tabs (no
    H.265 here) over the /api/ws exchange Home Assistant uses. Both decode H.264 of the camera's
    size from one encoder; the camera's worker killed, both tabs play on in their sessions and
    the other camera never stops."""
    from test_http import chromium
    cam = camera(codec="h265", width=320, height=240, gop=25)
    cv = camvisor({"garage": f"url = {cam.url}\n", "door": H265SRC})
    drv = chromium()
    try:
        drv.set_script_timeout(20)
        tabs = []
        for i in range(2):
            if i:
                drv.switch_to.new_window("tab")
            drv.get(cv.http_url("/links.html?src=garage"))  # any page of ours: same origin
            assert drv.execute_async_script(HA_WS_JS) == {"ok": True}
            tabs.append(drv.current_window_handle)

        def stats(tab):
            drv.switch_to.window(tab)
            return drv.execute_async_script(HA_STATS_JS)
        for tab in tabs:
            st = wait_for(lambda: (lambda s: s if s.get("frames", 0) > 25 else None)(stats(tab)),
                          20, what="a tab decoding")
            assert st["mime"] == "video/H264" and (st["width"], st["height"]) == (320, 240), st
        # One h264 encoder for both tabs; the links page's snapshot is a jpeg encoder fed by
        # the same decoder.
        p = wait_for(lambda: (lambda p: p if "h264 320x240" in p["transcode"] else None)(
            producer(cv, "garage")), 10, what="the status naming the encoder")
        assert p["transcode"].count("h264") == 1 and p["transcode"].count("decoder") == 1, p
        assert cv.logs().count("variant h264: transcoding to h264") == 1

        door_pid = cv.worker_pid("door")
        door_bytes = lambda: next(c["bytes_recv"] for c in get_json(cv, "/api/cameras")["cameras"]
                                   if c["name"] == "door")
        os.kill(cv.worker_pid("garage"), signal.SIGKILL)
        before = [stats(t)["frames"] for t in tabs]
        for tab, n in zip(tabs, before):
            wait_for(lambda: stats(tab)["frames"] > n + 25, 20, what="the tab playing on")
        assert cv.worker_pid("door") == door_pid
        n = door_bytes()
        wait_for(lambda: door_bytes() > n + 10000, 10, what="the other camera streaming on")
        assert "worker door" not in "".join(
            ln for ln in cv.logs().splitlines() if "died" in ln)
    finally:
        drv.quit()


def test_g711_camera_as_aac_and_opus(camvisor, camera):
    """A G.711 camera's audio made AAC (HLS, MSE without FLAC, ?audio=aac) and Opus
    (?audio=opus) by its worker, the video passed through beside it; the camera's own codec
    asked for stays as it is."""
    cam = camera(codec="h264", audio="pcma")
    cv = camvisor({"garage": f"url = {cam.url}\n"})
    wait_for(lambda: "PCM_ALAW" in "".join(producer(cv, "garage").get("medias", [])), 15,
             what="the camera's codecs known")
    got = ffprobe(cv.http_url("/api/stream.m3u8?src=garage"))
    assert sorted(s["codec_name"] for s in got) == ["aac", "h264"], got
    m = mse_answer(cv, "avc1.640029,mp4a.40.2")  # no flac: the AAC variant
    assert m["type"] == "mse" and "mp4a.40.2" in m["value"] and "avc1" in m["value"], m
    m = mse_answer(cv, "avc1.640029,mp4a.40.2,flac")  # FLAC plays: the camera's own, as FLAC
    assert "flac" in m["value"], m
    for want in ("aac", "opus"):
        got = ffprobe(cv.url("garage", f"video&audio={want}"))
        assert [s["codec_name"] for s in got] == ["h264", want], got
    got = ffprobe(cv.url("garage", "video&audio=pcma"))
    assert [s["codec_name"] for s in got] == ["h264", "pcm_alaw"], got
    log = cv.logs()
    assert "variant aac: transcoding the camera's pcm_alaw audio to aac" in log
    assert "variant opus: transcoding the camera's pcm_alaw audio to opus" in log


@pytest.mark.may_die("worker garage")
def test_hostile_h265_camera_while_transcoded(camvisor, camera):
    """An H.265 camera whose NAL units come broken (a fifth of its video packets with bytes
    flipped, headers kept, so they reach the decoder) watched as H.264: the decoder takes them
    (FFmpeg's decoder is fuzzed behind ours, tests/fuzz/fuzz_xcode.c), H.264 keeps coming, and
    the other camera never notices. Should the worker die anyway, only it restarts (may_die)."""
    from rtspproxy import RtspProxy
    cam = camera(codec="h265", width=320, height=240, gop=25)
    proxy = RtspProxy(cam.port, corrupt=0.2).start()
    try:
        cv = camvisor({"garage": f"url = {proxy.url}\n", "door": H265SRC})
        wait_for(lambda: is_h265(cv, "garage"), 15, what="the camera's codec known")
        door_pid = cv.worker_pid("door")
        took, _ = ffmpeg_frames(cv.url("garage", "video=h264"), 75, timeout=60)
        assert proxy.corrupted > 20, proxy.corrupted
        assert cv.worker_pid("door") == door_pid
        p = producer(cv, "door")
        assert p.get("bytes_recv", 0) > 0
        print(f"75 H.264 frames in {took:.1f} s from a camera with {proxy.corrupted} packets broken")
    finally:
        proxy.stop()
