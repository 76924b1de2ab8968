"""camvisor-http's live HLS (/api/stream.m3u8, fMP4 segments) against real players: ffprobe and
ffmpeg, the playlist read as RFC 8216 says, each segment on its own, a muxer restart as a
discontinuity, and headless Chromium's own HLS player. hls.js too when HLSJS names its
hls.min.js (it is not shipped here)."""
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import TESTSRC, wait_for
from test_http import boxes, chromium, get, streaming, video_state, wait_playing

M3U8 = "/api/stream.m3u8?src=door"


def playlist(cv, path=M3U8, timeout=20):
    st, hdrs, body = get(cv, path, timeout=timeout)
    assert st == 200, (st, body)
    assert hdrs["Content-Type"] == "application/vnd.apple.mpegurl"
    assert hdrs["Cache-Control"] == "no-cache"
    assert hdrs["Access-Control-Allow-Origin"] == "*"  # go2rtc's, whatever [api] origin says
    return body.decode()


def parse(text):
    """{target, seq, disc_seq, segs: [{dur, uri, map, disc}]} of a media playlist, checked
    line by line as it goes."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    out = {"segs": [], "disc_seq": 0}
    cur_map, disc, dur = None, False, None
    for ln in lines[1:]:
        if ln.startswith("#EXT-X-VERSION:"):
            out["version"] = int(ln.split(":")[1])
        elif ln.startswith("#EXT-X-TARGETDURATION:"):
            out["target"] = int(ln.split(":")[1])
        elif ln.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            out["seq"] = int(ln.split(":")[1])
        elif ln.startswith("#EXT-X-DISCONTINUITY-SEQUENCE:"):
            out["disc_seq"] = int(ln.split(":")[1])
        elif ln == "#EXT-X-DISCONTINUITY":
            disc = True
        elif ln.startswith("#EXT-X-MAP:"):
            cur_map = re.fullmatch(r'#EXT-X-MAP:URI="([^"]+)"', ln).group(1)
        elif ln.startswith("#EXTINF:"):
            assert re.fullmatch(r"#EXTINF:\d+\.\d{3},", ln), ln
            dur = float(ln[8:-1])
        elif ln and not ln.startswith("#"):
            assert dur is not None and cur_map, ln
            out["segs"].append({"dur": dur, "uri": ln, "map": cur_map, "disc": disc})
            dur, disc = None, False
    assert out["version"] == 7
    n = [int(re.search(r"[?&]n=(\d+)", s["uri"]).group(1)) for s in out["segs"]]
    assert n == list(range(out["seq"], out["seq"] + len(n))), n
    for s in out["segs"]:
        assert s["dur"] <= out["target"], (s, out["target"])
        assert s["uri"].startswith("hls/segment.m4s?src=door&n="), s
        assert s["map"].startswith("hls/init.mp4?src=door"), s
    return out


def fetch(cv, rel, ctype):
    """A playlist URI, resolved against /api/."""
    st, hdrs, body = get(cv, "/api/" + rel)
    assert st == 200, (rel, st, body)
    assert hdrs["Content-Type"] == ctype
    assert hdrs["Access-Control-Allow-Origin"] == "*"
    return body


def probe_frames(data):
    """ffprobe's (key_frame, pts_time, width) for each frame of an MP4 in memory."""
    with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
        f.write(data)
        f.flush()
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", "frame=key_frame,pts_time,width",
             "-of", "json", f.name], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr
    return [(int(fr["key_frame"]), float(fr["pts_time"]), int(fr["width"]))
            for fr in json.loads(out.stdout)["frames"]]


def start(camvisor, **kw):
    cv = camvisor({"door": TESTSRC}, **kw)
    wait_for(lambda: streaming(cv, "door"), 15, what="door streaming")
    return cv


def test_hls_ffprobe_ffmpeg(camvisor):
    cv = start(camvisor)
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height",
         "-of", "json", cv.http_url(M3U8)], capture_output=True, text=True, timeout=40)
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)["streams"][0]
    assert (s["codec_name"], s["width"], s["height"]) == ("h264", 320, 240)
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", cv.http_url(M3U8), "-frames:v", "100", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_hls_playlist_and_segments(camvisor):
    cv = start(camvisor)
    t0 = time.monotonic()
    first = parse(playlist(cv))
    waited = time.monotonic() - t0
    # The feed opened with this request: answered once three 1 s segments were complete.
    assert len(first["segs"]) >= 3 and waited < 8, (first, waited)
    assert first["target"] == 1 and first["disc_seq"] == 0
    assert all(0.9 <= s["dur"] <= 1.1 for s in first["segs"]), first
    assert not any(s["disc"] for s in first["segs"])
    # Live: the window slides, numbers go on, no more than six segments are kept.
    time.sleep(3)
    later = parse(playlist(cv))
    assert later["segs"][-1]["uri"] != first["segs"][-1]["uri"]
    assert later["seq"] >= first["seq"] and len(later["segs"]) <= 6
    time.sleep(6)
    last = parse(playlist(cv))
    assert last["seq"] > first["seq"] + 2 and len(last["segs"]) == 6, last
    init = fetch(cv, last["segs"][0]["map"], "video/mp4")
    assert [b for b, _ in boxes(init)][:2] == ["ftyp", "moov"]
    # The newest init answers without v too.
    st, _, body = get(cv, "/api/hls/init.mp4?src=door")
    assert st == 200 and body == init
    prev_end = None
    for s in last["segs"][-3:]:
        seg = fetch(cv, s["uri"], "video/iso.segment")
        kinds = [b for b, _ in boxes(seg)]
        assert kinds[:2] == ["moof", "mdat"] and len(kinds) == 2 * kinds.count("moof")
        frames = probe_frames(init + seg)
        # Each segment is one whole GOP: it starts with its keyframe, holds no other.
        assert [k for k, _, _ in frames] == [1] + [0] * (len(frames) - 1), frames
        assert len(frames) == 25 and frames[0][2] == 320
        # The muxer's own timeline: each segment starts where the one before it ended.
        if prev_end is not None:
            assert abs(frames[0][1] - prev_end) < 0.001, (frames[0], prev_end)
        prev_end = frames[-1][1] + 0.04


def test_hls_errors(camvisor):
    cv = start(camvisor)
    for path in ("/api/stream.m3u8", "/api/stream.m3u8?src=", "/api/hls/init.mp4",
                 "/api/hls/segment.m4s?n=1"):
        assert get(cv, path)[0] == 400, path
    for path in ("/api/stream.m3u8?src=nope", "/api/hls/init.mp4?src=nope",
                 "/api/hls/segment.m4s?src=nope&n=0"):
        st, hdrs, _ = get(cv, path)
        assert st == 404 and hdrs["Access-Control-Allow-Origin"] == "*", path
    # No HLS session yet: nothing to serve, and asking for a segment does not start one.
    assert get(cv, "/api/hls/segment.m4s?src=door&n=0")[0] == 404
    assert get(cv, "/api/hls/init.mp4?src=door")[0] == 404
    pl = parse(playlist(cv))
    n = pl["seq"]
    assert get(cv, f"/api/hls/segment.m4s?src=door&n={n}")[0] == 200
    for bad in ("", "x", "-1", "1e3", "99999999999999999999999"):
        assert get(cv, f"/api/hls/segment.m4s?src=door&n={bad}")[0] == 400, bad
    assert get(cv, "/api/hls/init.mp4?src=door&v=x")[0] == 400
    assert get(cv, "/api/hls/init.mp4?src=door&v=7")[0] == 404
    assert get(cv, f"/api/hls/segment.m4s?src=door&n={n + 1000}")[0] == 404  # not yet
    time.sleep(8)
    assert get(cv, f"/api/hls/segment.m4s?src=door&n={n}")[0] == 404  # expired
    assert get(cv, "/api/stream.m3u8?src=door", headers={"Origin": "http://x"})[0] == 200


def test_hls_waiting_requests(camvisor):
    """Playlist requests that come before the segments wait, all of them, without holding up
    the loop; one that leaves while waiting is forgotten; a camera that never streams is a 503
    after ten seconds without a segment."""
    cv = camvisor({"door": TESTSRC, "dead": "url = rtsp://127.0.0.1:9/nothing\n"})
    wait_for(lambda: streaming(cv, "door"), 15, what="door streaming")
    # One that gives up at once, its socket closed under the waiting request.
    s = socket.create_connection(("127.0.0.1", cv.api_port))
    s.sendall(f"GET {M3U8} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    time.sleep(0.3)
    s.close()
    results = []
    threads = [threading.Thread(target=lambda: results.append(get(cv, M3U8, timeout=20)))
               for _ in range(4)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(0.5)
    # The loop goes on meanwhile.
    assert get(cv, "/api", timeout=2)[0] == 200
    assert time.monotonic() - t0 < 2
    for t in threads:
        t.join()
    assert [r[0] for r in results] == [200] * 4, results
    assert len({r[2] for r in results}) == 1  # answered together, the same playlist
    t0 = time.monotonic()
    st, hdrs, _ = get(cv, "/api/stream.m3u8?src=dead", timeout=20)
    took = time.monotonic() - t0
    assert st == 503 and hdrs["Access-Control-Allow-Origin"] == "*"
    assert took <= 12, took


def test_hls_discontinuity(camvisor):
    """New codec parameters restart the muxer: the playlist says so (EXT-X-DISCONTINUITY and a
    new versioned init), old segments keep their own init until they leave the window."""
    cv = start(camvisor)
    parse(playlist(cv))
    cv.write_camera("door", "url = testsrc://?width=640&height=480&fps=25&gop=25\n")
    cv.signal(signal.SIGHUP)

    def mixed():
        pl = parse(playlist(cv))
        return pl if any(s["disc"] for s in pl["segs"]) and not pl["segs"][-1]["disc"] else None
    pl = wait_for(mixed, 15, interval=0.5, what="segments on both sides of the restart")
    i = next(i for i, s in enumerate(pl["segs"]) if s["disc"])
    old, new = pl["segs"][i - 1], pl["segs"][i]
    assert old["map"].endswith("&v=0") and new["map"].endswith("&v=1"), pl
    old_init = fetch(cv, old["map"], "video/mp4")
    new_init = fetch(cv, new["map"], "video/mp4")
    assert probe_frames(old_init + fetch(cv, old["uri"], "video/iso.segment"))[0][:1] == (1,)
    assert probe_frames(old_init + fetch(cv, old["uri"], "video/iso.segment"))[0][2] == 320
    frames = probe_frames(new_init + fetch(cv, new["uri"], "video/iso.segment"))
    assert frames[0][0] == 1 and frames[0][2] == 640
    # Once the old segments are gone the discontinuity is counted, and their init is gone too.
    pl = wait_for(lambda: (lambda p: p if p["disc_seq"] == 1 else None)(parse(playlist(cv))), 15,
                  interval=0.5, what="the old segments out of the window")
    assert not any(s["disc"] for s in pl["segs"])
    assert get(cv, "/api/hls/init.mp4?src=door&v=0")[0] == 404
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", cv.http_url(M3U8), "-frames:v", "50", "-f", "null", "-"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_hls_base_path(camvisor):
    cv = camvisor({"door": TESTSRC}, api_extra="base_path = /go2rtc\n")
    wait_for(lambda: b'"streaming"' in get(cv, "/go2rtc/api/cameras")[2], 15, what="streaming")
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", cv.http_url("/go2rtc" + M3U8), "-frames:v", "30",
         "-f", "null", "-"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_hls_session_ends(camvisor):
    """Each request keeps the session for 30 s; then it ends, the feed goes, and a new one starts
    its numbers again."""
    cv = start(camvisor)
    pl = parse(playlist(cv))
    for _ in range(4):  # segment requests alone keep it alive
        time.sleep(8)
        assert get(cv, "/api/hls/init.mp4?src=door")[0] == 200
    assert get(cv, "/api/hls/init.mp4?src=door")[0] == 200
    time.sleep(32)
    assert get(cv, "/api/hls/init.mp4?src=door")[0] == 404
    again = parse(playlist(cv))
    assert again["seq"] == 0, again


def test_hls_chromium_native(camvisor):
    """Chromium's own HLS player (no MSE, no hls.js): go2rtc's stream.html in mode=hls, and a
    bare <video src=...m3u8>."""
    cv = start(camvisor)
    drv = chromium()
    try:
        drv.get(cv.http_url("/stream.html?src=door&mode=hls"))
        can = drv.execute_script(
            "return document.createElement('video').canPlayType('application/vnd.apple.mpegurl')")
        if not can:
            pytest.skip("this Chromium has no native HLS")
        st = wait_playing(drv, "video", timeout=30)
        assert (st[1], st[2]) == (320, 240)
        assert drv.execute_script("return document.querySelector('video-stream').dataset.mode") == "hls"
        drv.execute_script(
            "document.body.innerHTML = '';"
            "const v = document.createElement('video'); v.id = 'bare'; v.muted = true;"
            "v.src = arguments[0]; document.body.appendChild(v); v.play();",
            cv.http_url(M3U8))
        st = wait_playing(drv, "#bare", timeout=30)
        t0 = st[0]
        time.sleep(5)
        st = video_state(drv, "#bare")
        assert st[0] - t0 >= 4, f"played {st[0] - t0:.1f} s in 5 s"
        assert drv.execute_script("return document.getElementById('bare').error") is None
    finally:
        drv.quit()


@pytest.mark.skipif(not os.environ.get("HLSJS"), reason="HLSJS (a path to hls.min.js) not set")
def test_hls_hlsjs(camvisor):
    cv = start(camvisor)
    drv = chromium()
    try:
        drv.get(cv.http_url("/stream.html?src=door&mode=mjpeg"))
        with open(os.environ["HLSJS"]) as f:
            drv.execute_script(f.read() + "\n;window.Hls = Hls;")
        drv.execute_script(
            "document.body.innerHTML = '';"
            "const v = document.createElement('video'); v.id = 'h'; v.muted = true;"
            "document.body.appendChild(v); window.errs = [];"
            "const h = new Hls(); h.on(Hls.Events.ERROR, (e, d) => window.errs.push(d.details));"
            "h.loadSource(arguments[0]); h.attachMedia(v); v.play();", cv.http_url(M3U8))
        st = wait_playing(drv, "#h", timeout=30)
        assert (st[1], st[2]) == (320, 240)
        assert drv.execute_script("return window.errs") == []
    finally:
        drv.quit()
