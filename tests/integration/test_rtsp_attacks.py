"""camvisor-rtsp under attack: descriptor exhaustion, connection floods, idle and half-sent
requests, pipelining without reading, password guessing, replayed Digest answers, oversized
headers. Each test was written against the defect it names and fails on the code before the fix."""
import base64
import hashlib
import re
import socket
import subprocess
import time

from conftest import TESTSRC, ffprobe, wait_for
from gstclient import Watcher
from test_rtsp_server import RawClient


def connect(port, timeout=10):
    s = socket.socket()
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


def read_until_closed(s, limit=1 << 20, timeout=10):
    """Everything the server sends until it closes (b'' on EOF); raises on a reset."""
    s.settimeout(timeout)
    data = b""
    while len(data) < limit:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


def closed_by_server(s):
    """True once the server has closed s (EOF or reset), without blocking."""
    s.setblocking(False)
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return True
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True


def describe(url, cseq, extra=""):
    return f"DESCRIBE {url} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}\r\n".encode()


def test_out_of_descriptors_pauses_instead_of_spinning(camvisor):
    """1,100 idle connections against a 1,024-fd limit once spun camvisor-rtsp at 100 % and logged
    'Too many open files' millions of times. Here: a 128-fd limit (below the default connection
    caps, so the descriptor limit is what stops them: refused with 503 before the descriptors the
    feeds need run out, or accepting paused) and 160 connections."""
    cv = camvisor({"demo": TESTSRC}, nofile=128)
    ffprobe(cv.url("demo"))
    socks = []
    try:
        for _ in range(160):
            socks.append(connect(cv.rtsp_port))
        time.sleep(1)  # let it hit the limit
        log0, cpu0, t0 = len(cv.logs()), cv.rtsp_proc("cpu"), time.monotonic()
        time.sleep(3)
        cpu = cv.rtsp_proc("cpu") - cpu0
        wall = time.monotonic() - t0
        assert cpu < 0.5 * wall, f"camvisor-rtsp used {cpu:.2f} s of CPU in {wall:.1f} s"
        grown = len(cv.logs()) - log0
        assert grown < 20000, f"the log grew {grown} bytes in 3 s"
        log = cv.logs()
        assert "cannot accept a client" in log or "the descriptor limit reached" in log
    finally:
        for s in socks:
            s.close()
    # Once descriptors are free again, clients are served as before.
    wait_for(lambda: ffprobe(cv.url("demo"))[0]["codec_name"] == "h264", 20, interval=0.5,
             what="a client served after the flood")


def test_connection_caps_refuse_politely(camvisor):
    cv = camvisor({"demo": TESTSRC}, rtsp_extra="max_connections_per_client = 5\n")
    socks = [connect(cv.rtsp_port) for _ in range(5)]
    try:
        extra = connect(cv.rtsp_port)
        reply = read_until_closed(extra)
        assert reply.startswith(b"RTSP/1.0 503 Service Unavailable\r\n"), reply
        assert b"Retry-After:" in reply
        wait_for(lambda: "max_connections_per_client reached" in cv.logs(), 5,
                 what="the refusal logged")
        # The five are untouched and can still talk.
        c = socks[0]
        c.sendall(b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
        assert c.recv(4096).startswith(b"RTSP/1.0 200")
    finally:
        for s in socks:
            s.close()
    # Room again once they are gone.
    wait_for(lambda: ffprobe(cv.url("demo"))[0]["codec_name"] == "h264", 10, interval=0.5,
             what="a client served under the cap")


def test_idle_and_half_sent_requests_time_out(camvisor):
    cv = camvisor({"demo": TESTSRC}, rtsp_extra="request_timeout = 1s\nidle_timeout = 3s\n")
    w = Watcher(cv.url("demo")).start()  # a playing viewer is never idle
    idle = [connect(cv.rtsp_port) for _ in range(50)]
    half = [connect(cv.rtsp_port) for _ in range(50)]
    try:
        for s in half:
            s.sendall(f"DESCRIBE {cv.url('demo')} RTSP/1.0\r\nCSeq: 1\r\n".encode())
        wait_for(lambda: w.count() >= 10, 20, what="frames at the viewer")
        t = time.monotonic()
        replies = [read_until_closed(s, timeout=8) for s in half]
        assert time.monotonic() - t < 5
        assert all(r.startswith(b"RTSP/1.0 408 Request Timeout\r\n") for r in replies), replies[:2]
        wait_for(lambda: all(closed_by_server(s) for s in idle), 8, interval=0.25,
                 what="idle connections closed")
        t = time.monotonic()
        time.sleep(1)
        assert w.frames_since(t) >= 10, "the playing viewer was dropped or stalled"
    finally:
        w.stop()
        for s in idle + half:
            s.close()


def test_pipelining_without_reading_is_bounded(camvisor):
    """Clients that pipeline DESCRIBEs and never read once cost ~4 MiB each (200 of them: 841 MB).
    Now the next request is read only after the previous reply is out."""
    cv = camvisor({"demo": TESTSRC})
    ffprobe(cv.url("demo"))
    rss0 = cv.rtsp_proc("VmRSS")
    req = describe(cv.url("demo"), 1) * 2000  # ~130 KB of requests
    socks = []
    try:
        for _ in range(60):
            s = connect(cv.rtsp_port)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.setblocking(False)
            socks.append(s)
        deadline = time.monotonic() + 4
        pending = {s: req * 8 for s in socks}  # ~1 MB each, as much as the kernel takes
        while time.monotonic() < deadline:
            for s in socks:
                try:
                    n = s.send(pending[s][:65536])
                    pending[s] = pending[s][n:] or req
                except BlockingIOError:
                    pass
            time.sleep(0.01)
        time.sleep(1)
        grown = (cv.rtsp_proc("VmRSS") - rss0) / 1024
        assert grown < 64, f"camvisor-rtsp grew {grown:.0f} MiB for 60 pipelining clients"
    finally:
        for s in socks:
            s.close()
    # A client that pipelines and reads gets every answer, in order.
    c = connect(cv.rtsp_port)
    c.sendall(b"".join(f"OPTIONS * RTSP/1.0\r\nCSeq: {i}\r\n\r\n".encode() for i in range(1, 51)))
    got = b""
    while got.count(b"\r\n\r\n") < 50:
        got += c.recv(65536)
    assert [int(x) for x in re.findall(rb"CSeq: (\d+)", got)] == list(range(1, 51))
    c.close()


AUTH = "username = viewer\npassword = pa55word\nlocal_auth = true\n"


def basic(user, pw):
    return "Authorization: Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode() + "\r\n"


def test_password_guessing_is_throttled(camvisor):
    cv = camvisor({"demo": TESTSRC}, rtsp_extra=AUTH)
    url = cv.url("demo")
    # 2,000 guesses pipelined on one connection: three are answered, then the connection closes.
    s = connect(cv.rtsp_port)
    s.sendall(b"".join(describe(url, i, basic("viewer", f"guess{i}")) for i in range(2000)))
    answers = read_until_closed(s)
    s.close()
    assert answers.count(b"RTSP/1.0 401") == 3, answers[:400]
    # Seven more from new connections reach the address's limit of ten within a minute...
    for i in range(7):
        c = RawClient(cv.rtsp_port)
        assert c.request("DESCRIBE", url, basic("viewer", f"again{i}")).startswith("RTSP/1.0 401")
        c.close()
    # ...after which even the right password is refused for a while, with a reason.
    c = RawClient(cv.rtsp_port)
    r = c.request("DESCRIBE", url, basic("viewer", "pa55word"))
    assert r.startswith("RTSP/1.0 503"), r
    assert re.search(r"Retry-After: \d+", r), r
    c.close()
    log = cv.logs()
    assert log.count("401") < 40, "one log line per guess"
    assert "logins from this address refused" in log
    assert "pa55word" not in log and "guess1" not in log


def digest_header(user, pw, realm, nonce, method, uri):
    h = lambda x: hashlib.md5(x.encode()).hexdigest()  # noqa: E731
    resp = h(f"{h(f'{user}:{realm}:{pw}')}:{nonce}:{h(f'{method}:{uri}')}")
    return (f'Authorization: Digest username="{user}", realm="{realm}", nonce="{nonce}", '
            f'uri="{uri}", response="{resp}"\r\n')


def challenge(r):
    return re.search(r'Digest realm="([^"]+)", nonce="([^"]+)"', r).groups()


def test_digest_answer_cannot_be_replayed(camvisor):
    cv = camvisor({"front": TESTSRC, "back": TESTSRC}, rtsp_extra=AUTH)
    front, back = cv.url("front"), cv.url("back")
    c = RawClient(cv.rtsp_port)
    realm, nonce = challenge(c.request("DESCRIBE", front))
    answer = digest_header("viewer", "pa55word", realm, nonce, "DESCRIBE", front)
    assert c.request("DESCRIBE", front, answer).startswith("RTSP/1.0 200")
    # The same answer for another camera, on the same connection: its uri is not this request's.
    assert c.request("DESCRIBE", back, answer).startswith("RTSP/1.0 401")
    c.close()
    # The captured answer on a new connection: its nonce belongs to the old one.
    c2 = RawClient(cv.rtsp_port)
    r = c2.request("DESCRIBE", front, answer)
    assert r.startswith("RTSP/1.0 401"), r
    assert challenge(r)[1] != nonce and "stale=TRUE" in r
    c2.close()


def test_oversized_headers_get_431_not_a_reset(camvisor):
    cv = camvisor({"demo": TESTSRC})
    for size in (9 * 1024, 70 * 1024):
        s = connect(cv.rtsp_port)
        s.sendall(f"DESCRIBE {cv.url('demo')} RTSP/1.0\r\nCSeq: 1\r\nX-Pad: ".encode()
                  + b"a" * size + b"\r\n\r\n")
        reply = read_until_closed(s)
        s.close()
        assert reply.startswith(b"RTSP/1.0 431 Request Header Fields Too Large\r\n"), reply[:80]


def test_media_sockets_bind_the_listen_address(camvisor):
    cv = camvisor({"demo": TESTSRC})  # listen = 127.0.0.1:PORT
    ffprobe(cv.url("demo"), transport="udp")
    pid = cv.rtsp_pid()
    out = subprocess.run(["ss", "-H", "-u", "-a", "-n", "-p"], capture_output=True, text=True,
                         check=True).stdout
    mine = [l.split()[3] for l in out.splitlines() if f"pid={pid}," in l]
    assert len(mine) >= 2, out
    assert all(a.startswith("127.0.0.1:") for a in mine), mine
