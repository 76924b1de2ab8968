"""`make install` into a DESTDIR: the layout, a configuration that is never overwritten, the
systemd unit, and the installed supervisor actually serving video from where it was put."""
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from conftest import ROOT, check_clean, ffprobe, free_port, wait_for


def install(destdir):
    out = subprocess.run(["make", "--no-print-directory", "install", f"DESTDIR={destdir}",
                          "PREFIX=/usr"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


class Installed:
    """Just enough of conftest.Camvisor for check_clean()."""

    def __init__(self, proc, log_path):
        self.proc, self.log_path = proc, log_path

    def logs(self):
        return self.log_path.read_text(errors="replace")


def probe(url):
    try:
        return ffprobe(url)
    except AssertionError:
        return None  # not serving yet


def test_install_into_destdir_and_run(tmp_path):
    # Not under tmp_path: pytest's folders are private to root, and the installed supervisor
    # starts its children as the camvisor account, which must be able to run them.
    top = tempfile.mkdtemp(prefix="camvisor-install-")
    os.chmod(top, 0o755)
    try:
        run_installed(tmp_path, Path(top) / "root")
    finally:
        shutil.rmtree(top)


def http_get(url):
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read()
    except OSError:
        return None


def run_installed(tmp_path, dest):
    install(dest)
    lib = dest / "usr/lib/camvisor"
    for prog in ("camvisor", "camvisor-worker", "camvisor-rtsp", "camvisor-http"):
        assert os.access(lib / prog, os.X_OK), prog
    assert (lib / "camvisor-ffmpeg.so").exists()
    assert (lib / "www/index.html").exists() and (lib / "www/video-stream.js").exists()
    assert os.readlink(dest / "usr/bin/camvisor") == "../lib/camvisor/camvisor"
    unit = (dest / "lib/systemd/system/camvisor.service").read_text()
    assert "ExecStart=/usr/bin/camvisor -c /etc/camvisor/camvisor.ini" in unit
    assert "@PREFIX@" not in unit and "Restart=on-failure" in unit
    conf = dest / "etc/camvisor/camvisor.ini"
    assert "user = camvisor" in conf.read_text()
    assert (dest / "etc/camvisor/cameras.d/demo.ini").exists()

    # A second install keeps what the user changed.
    conf.write_text(conf.read_text().replace("log_level = info", "log_level = warn"))
    (dest / "etc/camvisor/cameras.d/demo.ini").unlink()
    assert "keeping the existing" in install(dest)
    assert "log_level = warn" in conf.read_text()
    assert not (dest / "etc/camvisor/cameras.d/demo.ini").exists()

    # The installed program, through its bin/ link, with the installed demo camera.
    port, api_port = free_port(), free_port()
    (dest / "etc/camvisor/cameras.d/demo.ini").write_text(
        "[camera]\nurl = testsrc://?width=320&height=240&fps=25\n")
    ini = conf.read_text().replace("log_level = warn", "log_level = info")
    for default, mine in (("0.0.0.0:8554", f"127.0.0.1:{port}"),
                          ("0.0.0.0:1984", f"127.0.0.1:{api_port}"),
                          ("0.0.0.0:8555", f"127.0.0.1:{free_port()}")):
        assert f"listen = {default}" in ini
        ini = ini.replace(f"listen = {default}", f"listen = {mine}")
    conf.write_text(ini)
    log_path = tmp_path / "installed.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([str(dest / "usr/bin/camvisor"), "-c", str(conf)],
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"rtsp://127.0.0.1:{port}/demo"
            wait_for(lambda: proc.poll() is None and b"rtsp: started pid" in log_path.read_bytes(),
                     10, what="the installed camvisor to start")
            streams = wait_for(lambda: probe(url), 20, interval=0.5, what="the demo camera")
            assert streams[0]["codec_name"] == "h264"
            # The installed camvisor-http serves the web UI installed beside it.
            page = wait_for(lambda: http_get(f"http://127.0.0.1:{api_port}/"), 10,
                            what="the installed web UI")
            assert b"<html" in page.lower()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(10)
    check_clean(Installed(proc, log_path), set())
