"""camvisor-webrtc against a real WebRTC peer (aiortc: its own ICE agent, DTLS and SRTP), with
signalling through camvisor-http in go2rtc's shapes: POST /api/webrtc (JSON, WHEP, form),
/api/ws (v1 and Home Assistant's v2). Crash isolation: a worker, camvisor-http or
camvisor-webrtc killed mid-session. Attacks on the UDP port: nothing unauthenticated is
answered, nothing crashes it."""
import base64
import json
import os
import re
import signal
import socket
import struct
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import TESTSRC, wait_for
from webrtcclient import Viewer
from wsclient import WsClient

CAM = {"door": "url = testsrc://?width=320&height=240&fps=25&gop=50\n"}


def links(cv):
    """How many times the supervisor linked camvisor-http and camvisor-webrtc."""
    log = cv.logs()
    return log.count("http and webrtc: connected") + log.count("webrtc and http: connected")


def post(cv, path, body, ctype, timeout=20):
    req = urllib.request.Request(cv.http_url(path), data=body, method="POST",
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def play_json(cv, camera="door", audio=False):
    v = Viewer(audio=audio)
    status, _, body = post(cv, f"/api/webrtc?src={camera}",
                           json.dumps({"type": "offer", "sdp": v.offer()}).encode(),
                           "application/json")
    assert status == 200, body
    ans = json.loads(body)
    assert ans["type"] == "answer"
    v.answer(ans["sdp"])
    return v, ans["sdp"]


def test_aiortc_plays_over_json(camvisor):
    cv = camvisor(CAM)
    t0 = time.monotonic()
    v, sdp = play_json(cv)
    try:
        assert "a=ice-lite" in sdp and "a=setup:passive" in sdp and "a=fingerprint:sha-256" in sdp
        assert f"127.0.0.1 {cv.webrtc_port} typ host" in sdp
        assert v.wait_frames(50, 20), f"{v.count()} frames"
        assert v.frames[0][1:] == (320, 240)
        # Decoded frames keep coming at the camera's rate: 50 more within a generous 10 s.
        n = v.count()
        assert v.wait_frames(n + 50, 10)
        print(f"first decoded frame {v.frames[0][0] - t0:.3f} s after the offer")
    finally:
        v.close()


def test_whep_created_with_location_and_delete_ends_it(camvisor):
    cv = camvisor(CAM)
    v = Viewer()
    try:
        status, hdrs, body = post(cv, "/api/webrtc?src=door", v.offer().encode(),
                                  "application/sdp")
        assert status == 201, body
        assert hdrs["Content-Type"].startswith("application/sdp")
        loc = hdrs["Location"]
        assert loc.startswith("/api/webrtc?src=door&id=w"), loc
        v.answer(body.decode())
        assert v.wait_frames(20, 20)
        req = urllib.request.Request(cv.http_url(loc), method="DELETE")
        assert urllib.request.urlopen(req, timeout=10).status == 200
        wait_for(lambda: "closed by the client" in cv.logs(), 10, what="the session to end")
        n = v.count()
        time.sleep(1.5)
        assert v.count() - n < 5, "frames still flow after the DELETE"
    finally:
        v.close()


def test_form_and_raw_offers(camvisor):
    cv = camvisor(CAM)
    v = Viewer()
    try:
        form = "data=" + base64.b64encode(v.offer().encode()).decode()
        status, _, body = post(cv, "/api/webrtc?src=door", form.encode(),
                               "application/x-www-form-urlencoded")
        assert status == 200, body
        v.answer(base64.b64decode(body).decode())
        assert v.wait_frames(20, 20)
    finally:
        v.close()
    v = Viewer()
    try:
        status, _, body = post(cv, "/api/webrtc?src=door", v.offer().encode(), "text/plain")
        assert status == 200 and body.startswith(b"v=0"), body
        v.answer(body.decode())
        assert v.wait_frames(20, 20)
    finally:
        v.close()


def ws_v1_offer(cv, v):
    """go2rtc's v1 exchange on /api/ws: v's offer out, the answer's SDP back (and the socket)."""
    ws = WsClient(cv.api_port, "/api/ws?src=door")
    ws.send({"type": "webrtc/offer", "value": v.offer()})
    msg = ws.recv_json()
    assert msg["type"] == "webrtc/answer", msg
    return ws, msg["value"]


def test_home_assistant_ws_v2_and_go2rtc_v1(camvisor):
    cv = camvisor(CAM)
    v = Viewer()
    ws = WsClient(cv.api_port, "/api/ws?src=door")
    try:
        ws.send({"type": "webrtc", "value": {"type": "offer", "sdp": v.offer(),
                                              "ice_servers": []}})
        ws.send({"type": "webrtc/candidate", "value": "candidate:1 1 udp 1 10.0.0.1 9 typ host"})
        msg = ws.recv_json()
        assert msg["type"] == "webrtc", msg
        assert msg["value"]["type"] == "answer"
        v.answer(msg["value"]["sdp"])
        assert v.wait_frames(20, 20)
        # The browser closes its PeerConnection (DTLS close_notify): the session ends at once.
        v.close()
        wait_for(lambda: "the browser closed DTLS" in cv.logs(), 10, what="the session to end")
    finally:
        ws.close()
        v.close()
    # go2rtc's own player (video-rtc.js, v1 messages) closes its WebSocket as soon as WebRTC
    # plays, and keeps playing: the session outlives its signalling, as with go2rtc.
    v = Viewer()
    ws, answer = ws_v1_offer(cv, v)
    try:
        v.answer(answer)
        assert v.wait_frames(20, 20)
        ws.close()
        wait_for(lambda: "its signalling closed; it plays on" in cv.logs(), 10,
                 what="the socket's close seen")
        n = v.count()
        assert v.wait_frames(n + 50, 10), "the session stopped with its WebSocket"
    finally:
        ws.close()
        v.close()
    # A socket that closes before its session plays takes the session with it.
    v = Viewer()
    ws, _ = ws_v1_offer(cv, v)  # the answer is never given to v: it never connects
    try:
        ws.close()
        wait_for(lambda: "its signalling closed before it played" in cv.logs(), 10,
                 what="the half-made session to end")
    finally:
        v.close()


def patch(cv, path, body, ctype="application/sdp"):
    req = urllib.request.Request(cv.http_url(path), data=body, method="PATCH",
                                 headers={"Content-Type": ctype})
    try:
        with urllib.request.urlopen(req, timeout=20) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_server_made_offer_over_http_and_ws(camvisor):
    """The client asks for our offer and answers it: an empty POST gets 201 with our offer and
    its Location, a PATCH there takes the answer (204); on /api/ws, a v2 `webrtc` message without
    sdp gets `webrtc` {"type":"offer"} and the client's `webrtc` {"type":"answer"} completes it.
    aiortc plays both; a bad answer is refused clearly; an answer nobody asked for is refused."""
    cv = camvisor(CAM)
    v = Viewer(answerer=True)
    try:
        status, headers, body = post(cv, "/api/webrtc?src=door", b"", "application/sdp")
        assert status == 201, body
        offer = body.decode()
        assert "a=setup:actpass" in offer and "a=sendonly" in offer and "a=ice-lite" in offer
        loc = headers["Location"]
        assert "id=" in loc
        st, b = patch(cv, loc, v.answer_offer(offer).encode())
        assert st == 204, b
        assert v.wait_frames(25, 20), f"{v.count()} frames"
        assert v.frames[0][1:] == (320, 240)
        st, b = patch(cv, loc, v.pc.localDescription.sdp.encode())  # answered already
        assert st == 404, b
    finally:
        v.close()
    st, b = patch(cv, "/api/webrtc?src=door&id=w999nosuch", b"v=0\r\n")
    assert st == 404, b
    # A garbage answer to a real offer: 400 and the session ends.
    status, headers, body = post(cv, "/api/webrtc?src=door", b"", "application/sdp")
    assert status == 201
    st, b = patch(cv, headers["Location"], b"not sdp at all")
    assert st == 400 and b"not SDP" in b, (st, b)

    v = Viewer(answerer=True)
    ws = WsClient(cv.api_port, "/api/ws?src=door", timeout=20)
    try:
        ws.send({"type": "webrtc", "value": {"type": "offer_request"}})
        msg = ws.recv_json()
        assert msg["type"] == "webrtc" and msg["value"]["type"] == "offer", msg
        ws.send({"type": "webrtc",
                 "value": {"type": "answer", "sdp": v.answer_offer(msg["value"]["sdp"])}})
        assert v.wait_frames(25, 20), f"{v.count()} frames"
        ws.send({"type": "webrtc/answer", "value": "v=0\r\n"})  # nothing waits for it
        err = ws.recv_json()
        assert err["type"] == "error" and "no offer of ours" in err["value"], err
    finally:
        ws.close()
        v.close()


def test_errors_are_clear(camvisor):
    cv = camvisor(CAM)
    status, _, body = post(cv, "/api/webrtc?src=nope", b"{}", "application/json")
    assert status == 404
    status, _, body = post(cv, "/api/webrtc?src=door", b'{"type":"offer"}', "application/json")
    assert status == 400, body
    status, _, body = post(cv, "/api/webrtc?src=door", b"v=0\r\nnot an offer\r\n",
                           "application/sdp")
    assert status in (400, 500) and body, (status, body)
    ws = WsClient(cv.api_port, "/api/ws?src=door")
    ws.send({"type": "webrtc", "value": {"type": "offer"}})
    msg = ws.recv_json()
    assert msg["type"] == "error" and msg["value"].startswith("webrtc"), msg
    ws.close()


def test_two_viewers_at_once_then_ten(camvisor):
    """The go2rtc crash of the story: two tablets opening one camera over WebRTC at once."""
    cv = camvisor(CAM)
    viewers = []
    try:
        for _ in range(2):
            viewers.append(play_json(cv)[0])
        for v in viewers:
            assert v.wait_frames(25, 20)
        for _ in range(8):
            viewers.append(play_json(cv)[0])
        for v in viewers:
            n = v.count()
            assert v.wait_frames(n + 10, 20), "a viewer stalled among ten"
    finally:
        for v in viewers:
            v.close()


def test_a_viewer_that_stops_is_reaped_the_other_plays_on(camvisor):
    """One of two viewers stops dead (its whole stack frozen: it reads nothing, answers no
    consent check, sends no report): camvisor-webrtc reaps it when consent lapses (30 s, RFC
    7675), and the other viewer decodes throughout, without a gap."""
    cv = camvisor(CAM)
    a, _ = play_json(cv)
    b, _ = play_json(cv)
    try:
        assert a.wait_frames(10, 20) and b.wait_frames(10, 20)
        t = time.monotonic()
        a.loop.call_soon_threadsafe(time.sleep, 36)
        wait_for(lambda: "went silent (no ICE consent)" in cv.logs(), 45,
                 what="the frozen viewer reaped")
        assert time.monotonic() - t > 15, "reaped before its consent could lapse"
        n = b.count()
        assert b.wait_frames(n + 25, 10)
        times = [f[0] for f in b.frames if f[0] > t]
        gap = max(y - x for x, y in zip(times, times[1:]))
        assert gap < 1.0, f"the other viewer had a {gap:.2f} s gap"
    finally:
        b.close()
        try:
            a.close()
        except Exception:  # its loop may still be frozen: nothing left to close cleanly
            pass


@pytest.mark.may_die("worker door")
def test_worker_killed_the_same_peerconnection_plays_on(camvisor):
    cv = camvisor(CAM)
    v, _ = play_json(cv)
    try:
        assert v.wait_frames(25, 20)
        os.kill(cv.worker_pid("door"), signal.SIGKILL)
        t = time.monotonic()
        n = v.count()
        assert v.wait_frames(n + 10, 10), "no picture after the worker restart"
        print(f"frames again {time.monotonic() - t:.2f} s after the kill")
    finally:
        v.close()


@pytest.mark.may_die("http")
def test_http_killed_sessions_play_on(camvisor):
    cv = camvisor(CAM)
    v, _ = play_json(cv)
    try:
        assert v.wait_frames(25, 20)
        os.kill(cv.http_pid(), signal.SIGKILL)
        n = v.count()
        assert v.wait_frames(n + 50, 10), "the session stopped with camvisor-http"
        # camvisor-http comes back with a new link: new offers are answered again.
        wait_for(lambda: cv.http_pid(), 10, what="camvisor-http back")
        wait_for(lambda: links(cv) >= 2, 10,
                 what="the new link")
        v2, _ = play_json(cv)
        assert v2.wait_frames(10, 20)
        v2.close()
    finally:
        v.close()


@pytest.mark.may_die("webrtc")
def test_webrtc_killed_others_unaffected_and_back(camvisor):
    from conftest import ffmpeg_frames
    cv = camvisor(CAM)
    v, _ = play_json(cv)
    try:
        assert v.wait_frames(10, 20)
        os.kill(cv.webrtc_pid(), signal.SIGKILL)
        ffmpeg_frames(cv.url("door"), 25)  # RTSP untouched (it asserts that ffmpeg decoded them)
        wait_for(lambda: links(cv) >= 2, 10,
                 what="camvisor-webrtc back and linked")
        v2, _ = play_json(cv)
        assert v2.wait_frames(10, 20)
        v2.close()
    finally:
        v.close()


def stun_request(username, key=b"0123456789012345678901", tid=None, integrity=True):
    """A Binding request with USERNAME and (a wrong) MESSAGE-INTEGRITY, as an attacker makes."""
    import hmac
    import hashlib
    import zlib
    tid = tid or os.urandom(12)
    user = username.encode()
    attrs = struct.pack(">HH", 0x0006, len(user)) + user + b"\0" * (-len(user) % 4)
    msg_len = len(attrs) + (24 if integrity else 0) + 8
    hdr = struct.pack(">HHI", 0x0001, msg_len, 0x2112A442) + tid
    body = hdr + attrs
    if integrity:
        mac = hmac.new(key, hdr[:2] + struct.pack(">H", len(attrs) + 24) + hdr[4:] + attrs,
                       hashlib.sha1).digest()
        body += struct.pack(">HH", 0x0008, 20) + mac
    crc = (zlib.crc32(body) ^ 0x5354554E) & 0xFFFFFFFF
    return body + struct.pack(">HHI", 0x8028, 4, crc)


def test_unauthenticated_packets_get_no_answer(camvisor):
    cv = camvisor(CAM)
    v, sdp = play_json(cv)  # a live session: its ufrag is known to the attacker
    ufrag = [l.split(":", 1)[1] for l in sdp.splitlines() if l.startswith("a=ice-ufrag:")][0]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.3)
    try:
        assert v.wait_frames(10, 20)
        probes = [stun_request(f"{ufrag}:evil"),            # the right ufrag, a wrong password
                  stun_request("nosuch:evil"),               # nobody's ufrag
                  stun_request(f"{ufrag}:evil", integrity=False),
                  os.urandom(200), b"\x00\x01", b"\x16\xfe\xfd" + os.urandom(30),  # truncated DTLS
                  b"\x80\xc8" + os.urandom(60)]              # SRTCP from nobody
        for _ in range(200):
            for p in probes:
                s.sendto(p, ("127.0.0.1", cv.webrtc_port))
        with pytest.raises(socket.timeout):
            while True:
                data, _ = s.recvfrom(2048)
                raise AssertionError(f"answered an unauthenticated packet: {data[:20]!r}")
        n = v.count()
        assert v.wait_frames(n + 10, 10), "the flood disturbed a live session"
    finally:
        s.close()
        v.close()


class FakeStunServer:
    """A STUN server on loopback that tells whoever asks that it is 203.0.113.7:40123. Before
    the true answer it sends two that must be ignored: one with another transaction id, and one
    with the right id but from another port (a forger on the path)."""
    PUBLIC = ("203.0.113.7", 40123)
    FORGED = ("198.51.100.9", 40999)

    def __init__(self):
        import threading
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.forger = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    @staticmethod
    def response(tid, addr):
        ip = socket.inet_aton(addr[0])
        xip = bytes(a ^ b for a, b in zip(ip, struct.pack(">I", 0x2112A442)))
        attr = struct.pack(">HHBBH", 0x0020, 8, 0, 1, addr[1] ^ 0x2112) + xip
        return struct.pack(">HHI", 0x0101, len(attr), 0x2112A442) + tid + attr

    def run(self):
        while not self.stop:
            try:
                data, peer = self.sock.recvfrom(2048)
            except socket.timeout:
                continue
            self.requests.append(data)
            if len(data) < 20 or data[:2] != b"\x00\x01" or data[4:8] != b"\x21\x12\xa4\x42":
                continue
            tid = data[8:20]
            self.sock.sendto(self.response(os.urandom(12), self.FORGED), peer)
            self.forger.sendto(self.response(tid, self.FORGED), peer)
            time.sleep(0.05)
            self.sock.sendto(self.response(tid, self.PUBLIC), peer)

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()
        self.forger.close()


def test_stun_server_gives_a_server_reflexive_candidate(camvisor):
    """[webrtc] ice_servers names a STUN server: camvisor-webrtc asks it from its ICE port and
    answers with the address it learnt as a srflx candidate (based on its host candidate); answers
    from elsewhere or to another request are not taken. Nothing is asked without the setting."""
    stun = FakeStunServer()
    try:
        cv = camvisor(CAM, webrtc_extra=f"ice_servers = turn:nowhere:3478, "
                                         f"stun:127.0.0.1:{stun.port}\n")
        wait_for(lambda: "sees us at 203.0.113.7:40123" in cv.logs(), 20,
                 what="the STUN server's answer")
        v, sdp = play_json(cv)
        try:
            want = (f"203.0.113.7 40123 typ srflx raddr 127.0.0.1 rport {cv.webrtc_port}")
            assert want in sdp, sdp
            assert "198.51.100.9" not in sdp and "198.51.100.9" not in cv.logs()
            assert f"127.0.0.1 {cv.webrtc_port} typ host" in sdp
            assert v.wait_frames(10, 20), "the host candidate still plays"
        finally:
            v.close()
        assert stun.requests and all(len(r) == 20 for r in stun.requests), stun.requests
        assert "[webrtc] ice_servers: asking 127.0.0.1:" in cv.logs()
    finally:
        stun.close()
    # Without ice_servers (every other test here): no request, no srflx, said nowhere.
    assert "typ srflx" not in play_and_close(camvisor)


def test_certificate_from_a_pem_file(camvisor, tmp_path):
    """[webrtc] certificate: the DTLS certificate and key of a PEM file, so the fingerprint in
    every answer stays the same across restarts; aiortc's handshake with it plays. A file that
    cannot be used is said in the log, and a certificate made at start keeps WebRTC working."""
    pem = tmp_path / "webrtc.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(pem), "-out",
                    str(tmp_path / "cert.pem"), "-subj", "/CN=camvisor-test", "-days", "30"],
                   check=True, capture_output=True, timeout=30)
    with open(pem, "a") as f, open(tmp_path / "cert.pem") as c:
        f.write(c.read())  # key first, then the certificate: either order is taken
    fp = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint",
                         "-sha256"], check=True, capture_output=True, text=True).stdout
    fp = fp.strip().split("=", 1)[1]
    for _ in range(2):  # two starts, one fingerprint
        cv = camvisor(CAM, webrtc_extra=f"certificate = {pem}\n")
        v, sdp = play_json(cv)
        try:
            assert f"a=fingerprint:sha-256 {fp}" in sdp, (fp, sdp)
            assert v.wait_frames(10, 20)
        finally:
            v.close()
        cv.stop()
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate\n")
    cv = camvisor(CAM, webrtc_extra=f"certificate = {bad}\n")
    v, sdp = play_json(cv)
    try:
        assert "a=fingerprint:sha-256 " in sdp and fp not in sdp
        assert v.wait_frames(10, 20)
        assert f"[webrtc] certificate {bad}: no PEM certificate in it" in cv.logs()
    finally:
        v.close()


def play_and_close(camvisor):
    cv = camvisor(CAM)
    v, sdp = play_json(cv)
    v.close()
    assert "asking" not in cv.logs()
    return sdp


@pytest.mark.parametrize("audio", ["opus", "pcma", "pcmu"])
def test_camera_audio_reaches_the_viewer(camvisor, camera, audio):
    cam = camera(codec="h264", audio=audio)
    cv = camvisor({"cam": f"url = {cam.url}\n"})
    v, sdp = play_json(cv, "cam", audio=True)
    try:
        assert {"opus": "opus/48000", "pcma": "PCMA/8000", "pcmu": "PCMU/8000"}[audio] in sdp
        assert v.wait_frames(25, 20)
        wait_for(lambda: v.audio_frames >= 25, 10, what="audio frames")
    finally:
        v.close()


def test_parameter_sets_only_in_the_cameras_sdp(camvisor, camera):
    """A camera that sends SPS/PPS only in its SDP (many do): the browser still needs them in
    band, in front of each keyframe."""
    cam = camera(codec="h264", sdp_only_params=True)
    cv = camvisor({"cam": f"url = {cam.url}\n"})
    v, _ = play_json(cv, "cam")
    try:
        assert v.wait_frames(25, 20), f"{v.count()} frames decoded"
    finally:
        v.close()


def test_aac_camera_gets_opus_from_its_worker(camvisor, camera):
    """WebRTC carries no AAC: the session asks the camera's worker for its opus variant (the AAC
    decoded and encoded as Opus once, however many sessions), joined to the video; aiortc
    decodes both."""
    cam = camera(codec="h264", audio="aac")
    cv = camvisor({"cam": f"url = {cam.url}\n"})
    v, sdp = play_json(cv, "cam", audio=True)
    try:
        assert "asking camera cam for its opus variant" in cv.logs()
        audio = [m for m in sdp.split("m=")[1:] if m.startswith("audio")]
        assert audio and "opus/48000/2" in audio[0] and "a=inactive" not in audio[0], sdp
        assert v.wait_frames(25, 20)
        wait_for(lambda: v.audio_frames >= 25, 10, what="Opus audio frames decoded")
        assert "variant opus: transcoding the camera's aac audio to opus" in cv.logs()
    finally:
        v.close()


def test_sessions_in_api_streams_and_metrics(camvisor):
    cv = camvisor(CAM)
    v, _ = play_json(cv)
    try:
        assert v.wait_frames(10, 20)

        def listed():
            with urllib.request.urlopen(cv.http_url("/api/streams?src=door"), timeout=5) as r:
                info = json.load(r)
            return [c for c in info["consumers"] if c["format_name"].startswith("webrtc/")]
        # camvisor-webrtc reports its sessions to camvisor-http once a second: under load the
        # report that says "playing" may come a little after the first frames.
        cons = wait_for(lambda: (lambda c: c if c and c[0]["state"] == "playing" else None)(
            listed()), 10, what="the session in /api/streams, playing")
        assert cons[0]["format_name"] == "webrtc/json"
        assert cons[0]["remote_addr"] == "127.0.0.1"
        wait_for(lambda: listed()[0]["bytes_send"] > 10000, 5, what="bytes counted")
        with urllib.request.urlopen(cv.http_url("/metrics"), timeout=5) as r:
            metrics = r.read().decode()
        assert 'camvisor_viewers{camera="door",protocol="webrtc"} 1' in metrics
        assert "camvisor_webrtc_sessions 1" in metrics
    finally:
        v.close()
    wait_for(lambda: not listed(), 35, what="the closed session to leave the list")


# ---- headless Chromium --------------------------------------------------------------------

STATS_JS = """
const done = arguments[arguments.length - 1];
const v = document.querySelector(arguments[0]);
const vs = v && v.closest('video-stream');
const pc = vs && vs.pc;
if (!pc) { done(vs ? {mode: vs.dataset.mode, state: vs.dataset.state,
                      reconnects: vs.dataset.reconnects} : null); return; }
pc.getStats().then(r => {
  let out = {mode: vs.dataset.mode, state: vs.dataset.state, reconnects: vs.dataset.reconnects};
  r.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video')
    Object.assign(out, {frames: s.framesDecoded, width: s.frameWidth, lost: s.packetsLost,
                        received: s.packetsReceived}); });
  done(out);
});
"""


def webrtc_stats(drv, sel):
    return drv.execute_async_script(STATS_JS, sel)


@pytest.mark.may_die("webrtc")
def test_chromium_ui_plays_over_webrtc_and_reconnects(camvisor):
    from test_http import chromium
    cv = camvisor(CAM)
    drv = chromium()
    sel = '[data-camera="door"] video'
    try:
        drv.set_script_timeout(10)
        drv.get(cv.http_url("/stream.html?src=door"))

        def decoding(after=0):
            st = webrtc_stats(drv, sel)
            return st if st and st.get("mode") == "webrtc" and (st.get("frames") or 0) > after \
                and st.get("state") == "playing" else None
        st = wait_for(lambda: decoding(25), 20, what="Chromium decoding over WebRTC")
        assert st["width"] == 320 and st["state"] == "playing", st
        time.sleep(2)
        st2 = decoding(st["frames"] + 25)
        assert st2, f"frames stopped rising: {webrtc_stats(drv, sel)}"
        assert st2["lost"] <= 2, st2
        # What a person sees: the video element's pixels, twice: a picture (the test pattern's
        # PNG is tens of KiB; a black or empty element compresses to well under 5 KiB) that moves.
        el = drv.find_element("css selector", sel)
        png1 = el.screenshot_as_png
        time.sleep(1)
        png2 = el.screenshot_as_png
        assert len(png1) > 5000 and png1 != png2, (len(png1), len(png2))
        with open(os.path.join(cv.dir, "ui-webrtc.png"), "wb") as f:
            f.write(png2)
        # camvisor-webrtc killed: the page's player reconnects by itself, over WebRTC again.
        os.kill(cv.webrtc_pid(), signal.SIGKILL)
        wait_for(lambda: (webrtc_stats(drv, sel) or {}).get("reconnects", "0") != "0", 20,
                 what="the player to notice")
        wait_for(lambda: decoding(25), 30, what="Chromium decoding again after the restart")
    finally:
        drv.quit()


def test_chromium_whep(camvisor):
    """A page's own RTCPeerConnection against WHEP: 201, Location, media; then against our own
    offer (the client answers)."""
    from test_http import chromium
    cv = camvisor(CAM)
    drv = chromium()
    try:
        drv.set_script_timeout(20)
        drv.get(cv.http_url("/links.html?src=door"))  # any page of ours: same origin
        res = drv.execute_async_script("""
const done = arguments[arguments.length - 1];
const pc = new RTCPeerConnection();
pc.addTransceiver('video', {direction: 'recvonly'});
pc.addTransceiver('audio', {direction: 'recvonly'});
window.whepPc = pc;
pc.createOffer().then(o => pc.setLocalDescription(o))
  .then(() => fetch('api/webrtc?src=door', {method: 'POST',
        headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp}))
  .then(r => r.text().then(t => ({status: r.status, loc: r.headers.get('Location'), sdp: t})))
  .then(a => pc.setRemoteDescription({type: 'answer', sdp: a.sdp}).then(() => done(a)))
  .catch(e => done({error: String(e)}));
""")
        assert res.get("status") == 201 and res.get("loc"), res

        def frames():
            return drv.execute_async_script("""
const done = arguments[arguments.length - 1];
window.whepPc.getStats().then(r => { let f = 0;
  r.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') f = s.framesDecoded || 0; });
  done(f); });""")
        wait_for(lambda: frames() > 25, 20, what="frames decoded over WHEP")
        # The other way round: Chromium answers our offer (empty POST, then PATCH).
        res = drv.execute_async_script("""
const done = arguments[arguments.length - 1];
const pc = new RTCPeerConnection();
window.whepPc = pc;
let loc;
fetch('api/webrtc?src=door', {method: 'POST', headers: {'Content-Type': 'application/sdp'}})
  .then(r => { loc = r.headers.get('Location'); return r.text(); })
  .then(sdp => pc.setRemoteDescription({type: 'offer', sdp}))
  .then(() => pc.createAnswer()).then(a => pc.setLocalDescription(a))
  .then(() => fetch(loc, {method: 'PATCH', headers: {'Content-Type': 'application/sdp'},
                          body: pc.localDescription.sdp}))
  .then(r => done({status: r.status, loc}))
  .catch(e => done({error: String(e)}));
""")
        assert res.get("status") == 204, res
        wait_for(lambda: frames() > 25, 20, what="frames decoded from our offer")
    finally:
        drv.quit()


@pytest.mark.parametrize("audio", ["opus", "pcma", "aac"])
def test_chromium_receives_camera_audio(camvisor, camera, audio):
    """The camera's audio in Chromium's inbound stats; AAC, which WebRTC cannot carry, as Opus
    made by the camera's worker."""
    from test_http import chromium
    cam = camera(codec="h264", audio=audio)
    cv = camvisor({"cam": f"url = {cam.url}\n"})
    drv = chromium()
    try:
        drv.set_script_timeout(10)
        drv.get(cv.http_url("/stream.html?src=cam&mode=webrtc"))
        js = """
const done = arguments[arguments.length - 1];
const vs = document.querySelector('video-stream');
if (!vs || !vs.pc) { done(null); return; }
vs.pc.getStats().then(r => { const out = {}, codec = {};
  r.forEach(s => { if (s.type === 'inbound-rtp') { out[s.kind] = s.packetsReceived;
                                                   codec[s.kind] = s.codecId; } });
  r.forEach(s => { if (s.type === 'codec' && s.id === codec.audio) out.mime = s.mimeType; });
  done(out); });"""
        got = wait_for(lambda: (lambda s: s if s and s.get("audio", 0) > 50 and
                                s.get("video", 0) > 50 else None)(drv.execute_async_script(js)),
                       20, what=f"{audio} and video packets in Chromium")
        want = {"opus": "audio/opus", "pcma": "audio/PCMA", "aac": "audio/opus"}[audio]
        assert got.get("mime") == want, got
    finally:
        drv.quit()


class LossyPath:
    """A UDP relay between the viewer and camvisor-webrtc that drops every `every`th packet
    going to the viewer: the answer's candidate is pointed at it, ICE checks pass through it."""

    def __init__(self, target_port, every=20):
        import threading
        self.target = ("127.0.0.1", target_port)
        self.every = every
        self.outside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # the viewer's side
        self.outside.bind(("127.0.0.1", 0))
        self.inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # camvisor's side
        self.inside.bind(("127.0.0.1", 0))
        self.port = self.outside.getsockname()[1]
        self.viewer = None
        self.count = self.dropped = 0
        self.pts = {}  # RTP payload type -> packets seen
        self.stop = False
        self.threads = [threading.Thread(target=self._up, daemon=True),
                        threading.Thread(target=self._down, daemon=True)]
        for t in self.threads:
            t.start()

    def _up(self):
        self.outside.settimeout(0.2)
        while not self.stop:
            try:
                data, addr = self.outside.recvfrom(4096)
            except socket.timeout:
                continue
            self.viewer = addr
            self.inside.sendto(data, self.target)

    def _down(self):
        self.inside.settimeout(0.2)
        while not self.stop:
            try:
                data, _ = self.inside.recvfrom(4096)
            except socket.timeout:
                continue
            self.count += 1
            # SRTP media only (not STUN, DTLS or RTCP), so the session itself comes up.
            rtp = len(data) > 12 and 128 <= data[0] <= 191 and not 192 <= data[1] <= 223
            if rtp:
                self.pts[data[1] & 0x7f] = self.pts.get(data[1] & 0x7f, 0) + 1
            if rtp and self.count % self.every == 0:
                self.dropped += 1
                continue
            if self.viewer:
                self.outside.sendto(data, self.viewer)

    def close(self):
        self.stop = True
        for t in self.threads:
            t.join(2)
        self.outside.close()
        self.inside.close()


def test_lost_packets_are_sent_again_on_nack(camvisor):
    cv = camvisor(CAM)
    path = LossyPath(cv.webrtc_port, every=25)
    v = Viewer()
    try:
        status, _, body = post(cv, "/api/webrtc?src=door",
                               json.dumps({"type": "offer", "sdp": v.offer()}).encode(),
                               "application/json")
        assert status == 200
        sdp = json.loads(body)["sdp"].replace(f"127.0.0.1 {cv.webrtc_port} typ host",
                                              f"127.0.0.1 {path.port} typ host")
        v.answer(sdp)
        assert v.wait_frames(100, 30), f"{v.count()} frames"
        assert path.dropped > 5

        def resent():
            with urllib.request.urlopen(cv.http_url("/api/streams?src=door"), timeout=5) as r:
                c = [c for c in json.load(r)["consumers"] if c["format_name"] == "webrtc/json"]
            return c and c[0]["nacks"] > 0 and c[0]["retransmits"] > 0 and c[0]
        got = wait_for(resent, 10, what="NACKs answered")
        print(f"dropped {path.dropped}, nacks {got['nacks']}, retransmits {got['retransmits']}")
        # aiortc offers RTX for its video: retransmissions go as RTX (RFC 4588), on their own
        # SSRC and payload type, and aiortc decodes them (frames keep coming past the losses).
        rtx = re.search(r"a=rtpmap:(\d+) rtx/90000", sdp)
        assert rtx and "a=ssrc-group:FID" in sdp, sdp
        assert path.pts.get(int(rtx.group(1)), 0) >= 1, path.pts
        n = v.count()
        assert v.wait_frames(n + 25, 10)
    finally:
        v.close()
        path.close()


def test_chromium_over_ice_tcp_when_udp_is_blocked(camvisor):
    """The answer's UDP candidates removed (a network that blocks UDP): Chromium connects to the
    ICE-TCP passive candidate on the same port number and plays."""
    from test_http import chromium
    cv = camvisor(CAM)
    drv = chromium()
    try:
        drv.set_script_timeout(20)
        drv.get(cv.http_url("/links.html?src=door"))
        res = drv.execute_async_script("""
const done = arguments[arguments.length - 1];
const pc = new RTCPeerConnection();
pc.addTransceiver('video', {direction: 'recvonly'});
window.tcpPc = pc;
pc.createOffer().then(o => pc.setLocalDescription(o))
  .then(() => fetch('api/webrtc?src=door', {method: 'POST',
        headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp}))
  .then(r => r.text())
  .then(sdp => { const tcp = sdp.split('\\r\\n').filter(l => !/^a=candidate:.* udp /i.test(l));
                 return pc.setRemoteDescription({type: 'answer', sdp: tcp.join('\\r\\n')})
                   .then(() => done({tcp: tcp.filter(l => l.includes('tcptype passive')).length})); })
  .catch(e => done({error: String(e)}));
""")
        assert res.get("tcp", 0) >= 1, res

        def frames():
            return drv.execute_async_script("""
const done = arguments[arguments.length - 1];
window.tcpPc.getStats().then(r => { let f = 0;
  r.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') f = s.framesDecoded || 0; });
  done(f); });""")
        wait_for(lambda: frames() > 25, 20, what="frames decoded over ICE-TCP")
        assert "over ICE-TCP" in cv.logs()
    finally:
        drv.quit()


def closed(sock):
    """The peer closed sock (an orderly close, or a reset for bytes it did not read)."""
    try:
        return sock.recv(10) == b""
    except ConnectionResetError:
        return True


def test_ice_tcp_attacks(camvisor):
    """On the ICE-TCP port: a forged check gets no answer, an oversized frame closes the
    connection at once, an idle one (no check passed) is closed after 10 s, and none of it
    disturbs a live session."""
    cv = camvisor(CAM)
    v, _ = play_json(cv)
    try:
        assert v.wait_frames(10, 20)
        forged = socket.create_connection(("127.0.0.1", cv.webrtc_port), timeout=3)
        p = stun_request("nosuch:evil")
        forged.sendall(struct.pack(">H", len(p)) + p)
        big = socket.create_connection(("127.0.0.1", cv.webrtc_port), timeout=3)
        big.sendall(b"\xff\xff" + os.urandom(100))
        assert closed(big)  # closed, nothing said
        idle = [socket.create_connection(("127.0.0.1", cv.webrtc_port), timeout=15)
                for _ in range(5)]
        with pytest.raises(socket.timeout):
            forged.settimeout(1)
            forged.recv(10)  # no answer to a forged check (and not closed yet either)
        t = time.monotonic()
        for s in idle:
            assert closed(s)
        assert time.monotonic() - t < 14
        n = v.count()
        assert v.wait_frames(n + 10, 10), "the live session was disturbed"
        for s in idle + [forged, big]:
            s.close()
    finally:
        v.close()
