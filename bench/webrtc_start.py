#!/usr/bin/python3
"""WebRTC start in headless Chromium: offer -> first decoded frame, and how far behind live the
picture is once it plays (the frames since the newest keyframe come at once; with
playout-delay 0/0 Chrome shows them at once, without it at their own pace, up to a GOP behind).

    /usr/bin/python3 bench/webrtc_start.py [--gop 2] [--repeats 7]

Runs the plain build (build/) on loopback with a 640x360 25 fps test pattern, already streaming.
Each repeat is a fresh page and PeerConnection, with and without the playout-delay extension
(removed from the offer). For each frame Chromium presents, requestVideoFrameCallback gives
receiveTime and expectedDisplayTime: their difference is how long the frame waited in Chrome
(0 at the live edge; up to a GOP for a catch-up frame shown at its own pace). Prints medians."""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
os.environ.setdefault("CAMVISOR_BUILD", "build")
import conftest  # noqa: E402
from conftest import Camvisor, wait_for  # noqa: E402
from test_http import chromium  # noqa: E402

PAGE_JS = """
const done = arguments[arguments.length - 1];
const keepPlayout = arguments[0];
const v = document.createElement('video');
v.muted = true; v.autoplay = true; v.playsInline = true;
document.body.append(v);
const pc = new RTCPeerConnection();
pc.addTransceiver('video', {direction: 'recvonly'});
const res = {frames: []};
let t0 = 0;
pc.ontrack = ev => { v.srcObject = new MediaStream([ev.track]); };
const onFrame = (now, md) => {
  const t = performance.now() - t0;
  if (!res.first) res.first = t;
  res.frames.push([t, md.expectedDisplayTime - md.receiveTime]);
  if (t < 4000) v.requestVideoFrameCallback(onFrame); else { pc.close(); done(res); }
};
v.requestVideoFrameCallback(onFrame);
pc.createOffer().then(o => {
  let sdp = o.sdp;
  if (!keepPlayout) sdp = sdp.split('\\r\\n').filter(l => !l.includes('playout-delay')).join('\\r\\n');
  return pc.setLocalDescription({type: 'offer', sdp: sdp});
}).then(() => { t0 = performance.now();
  return fetch('api/webrtc?src=cam', {method: 'POST', headers: {'Content-Type': 'application/json'},
    body: JSON.stringify({type: 'offer', sdp: pc.localDescription.sdp})}); })
  .then(r => r.json()).then(a => pc.setRemoteDescription(a))
  .catch(e => done({error: String(e)}));
setTimeout(() => done(res), 15000);
"""


def behind_at(frames, t_ms):
    """The wait of the frame presented at about t_ms after the offer."""
    after = [d for t, d in frames if t >= t_ms]
    return after[0] if after else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gop", type=float, default=2.0, help="seconds between keyframes")
    ap.add_argument("--repeats", type=int, default=7)
    a = ap.parse_args()
    d = tempfile.mkdtemp(prefix="cv-bench-webrtc-")
    import pathlib
    gop = int(a.gop * 25)
    cv = Camvisor(pathlib.Path(d), {"cam": f"url = testsrc://?width=640&height=360&fps=25&gop={gop}\n"},
                  log_level="warn").start()
    drv = chromium()
    try:
        import urllib.request
        wait_for(lambda: b'"streaming"' in urllib.request.urlopen(
            cv.http_url("/api/cameras"), timeout=5).read(), 15)
        drv.set_script_timeout(20)
        out = {}
        for keep in (True, False):
            firsts, b1, b2 = [], [], []
            for _ in range(a.repeats):
                drv.get(cv.http_url("/links.html?src=cam"))
                r = drv.execute_async_script(PAGE_JS, keep)
                if "error" in r or not r.get("first"):
                    print("failed:", r)
                    continue
                firsts.append(r["first"])
                b1.append(behind_at(r["frames"], r["first"] + 1000))
                b2.append(behind_at(r["frames"], r["first"] + 2500))
                time.sleep(0.3)
            name = "playout-delay 0/0" if keep else "no playout-delay"
            out[name] = firsts
            print(f"{name:18} offer -> first frame: median {statistics.median(firsts):.0f} ms "
                  f"(min {min(firsts):.0f}, max {max(firsts):.0f}); behind live 1 s later: median "
                  f"{statistics.median(b1):.0f} ms, 2.5 s later: {statistics.median(b2):.0f} ms "
                  f"(n={len(firsts)}, GOP {a.gop:g} s)")
    finally:
        drv.quit()
        cv.stop()


if __name__ == "__main__":
    main()
