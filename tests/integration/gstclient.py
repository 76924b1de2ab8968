"""A GStreamer rtspsrc client that records when each video access unit arrives, for measuring
gaps. Depayloads only (no decoding), so eight of them cost little CPU even beside ASan."""
import threading
import time

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

Gst.init(None)


class Watcher:
    def __init__(self, url, codec="h264", transport="tcp"):
        depay = {"h264": "rtph264depay ! h264parse", "h265": "rtph265depay ! h265parse"}[codec]
        proto = {"tcp": "tcp", "udp": "udp"}[transport]
        self.pipeline = Gst.parse_launch(
            f"rtspsrc location={url} protocols={proto} latency=0 tcp-timeout=5000000 "
            f"! {depay} ! appsink name=sink emit-signals=true sync=false max-buffers=100 drop=true")
        self.times = []
        self.lock = threading.Lock()
        sink = self.pipeline.get_by_name("sink")
        sink.connect("new-sample", self._on_sample)

    def _on_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is not None:
            with self.lock:
                self.times.append(time.monotonic())
        return Gst.FlowReturn.OK

    def start(self):
        self.pipeline.set_state(Gst.State.PLAYING)
        return self

    def stop(self):
        self.pipeline.set_state(Gst.State.NULL)

    def count(self):
        with self.lock:
            return len(self.times)

    def frames_since(self, t):
        with self.lock:
            return sum(1 for x in self.times if x >= t)

    def max_gap(self, since, until=None):
        """Largest interval between consecutive frames in [since, until]."""
        with self.lock:
            ts = [x for x in self.times if x >= since and (until is None or x <= until)]
        if len(ts) < 2:
            return float("inf")
        return max(b - a for a, b in zip(ts, ts[1:]))
