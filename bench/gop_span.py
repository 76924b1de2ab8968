#!/usr/bin/python3
"""What a ring must hold for instant start: the bytes from a keyframe to the last frame before
the next one (one GOP), per GOP, against the mean GOP.

A new viewer starts at the newest keyframe in the ring. That keyframe is at most one GOP old, so
the ring must hold the largest GOP (plus the frame being written); the supervisor sizes rings from
the mean bitrate, so the figure that matters is largest GOP / mean GOP.

    bench/gop_span.py FILE_OR_URL [...]       # ffprobe reads the packets (-rtsp_transport tcp)
"""
import json
import statistics
import subprocess
import sys


def gops(src):
    args = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
            "packet=size,flags,pts_time", "-of", "json"]
    if src.startswith("rtsp://"):
        args += ["-rtsp_transport", "tcp", "-read_intervals", "%+30"]
    out = json.loads(subprocess.run(args + [src], check=True, capture_output=True).stdout)
    sizes, cur = [], None
    for p in out.get("packets", []):
        if "K" in p.get("flags", ""):
            if cur is not None:
                sizes.append(cur)
            cur = 0
        if cur is not None:
            cur += int(p["size"])
    return sizes  # complete GOPs only


def main():
    for src in sys.argv[1:]:
        g = gops(src)
        if len(g) < 2:
            print(f"{src}: fewer than two complete GOPs")
            continue
        mean = statistics.mean(g)
        print(f"{src}: {len(g)} GOPs, mean {mean / 1024:.0f} KiB, "
              f"p95 {sorted(g)[int(0.95 * (len(g) - 1))] / 1024:.0f} KiB, "
              f"max {max(g) / 1024:.0f} KiB: largest/mean {max(g) / mean:.2f}")


if __name__ == "__main__":
    main()
