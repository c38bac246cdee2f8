"""How fast the app answers with the training-free components: first result and threshold moves.

    .venv/bin/python benchmarks/app_speed.py [--video assets/bigbuckbunny_clip.mp4] [--frames 16]

Starts the app on a free local port in this process (as `make app` would, same thread settings),
then times, for one clip:
  - the first `/gaze` result through gradio_client (upload, decode, gaze, rebuild, render, exports;
    the client does not download the result files, as a page streams them only when shown);
  - the same callback in-process on a fresh frame cache (the server-side share of that);
  - moving the threshold: the callback on the same uploaded file with a new threshold, which the
    page does on slider release (frames come from the cache; only gaze, rebuild and render run);
  - the same through gradio_client (this re-uploads the file: the page does not);
  - the frame scrubber and the slots-vs-threshold curve that follows the first result;
  - a gazing-ratio move on the page's callback, and the curve after it (every point new).
Each step prints its wall time and the CPU time it used (this process plus ffmpeg): on a machine
shared with other jobs the wall time grows, the CPU time much less.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds() -> float:
    """CPU time of this process (server and client threads) and of its finished children (ffmpeg)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn, *args, **kwargs) -> tuple[tuple[float, float], object]:
    """((wall seconds, CPU seconds), result) of one call."""
    start, cpu = time.perf_counter(), cpu_seconds()
    out = fn(*args, **kwargs)
    return (time.perf_counter() - start, cpu_seconds() - cpu), out


def median(pairs: list[tuple[float, float]]) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(ROOT / "assets" / "bigbuckbunny_clip.mp4"))
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--gazer", default="greedy")
    args = parser.parse_args()

    import torch
    from gradio_client import Client, handle_file

    from playground.app import cache, callbacks, pipeline
    from playground.app.pipeline import RunSettings, no_progress
    from playground.app.server import running

    load_before = os.getloadavg()[0]
    d = RunSettings()
    thresholds = [0.15, 0.25, 0.3, 0.4, 0.5]
    rows: list[tuple[str, tuple[float, float], str]] = []
    with running() as url:
        client = Client(url, verbose=False, download_files=False)  # as a page: results stay on the server
        t, out = timed(client.predict, handle_file(args.video), args.frames, 0, 0, args.gazer, "paint", d.threshold,
                       d.gazing_ratio, api_name="/gaze")
        rows.append(("first result, through the server (cold)", t, "<= 3"))
        server_moves = [timed(client.predict, handle_file(args.video), args.frames, 0, 0, args.gazer, "paint", th,
                              d.gazing_ratio, api_name="/gaze")[0] for th in thresholds[:3]]
        rows.append(("threshold move, through the server (re-uploads)", median(server_moves), ""))

        for c in (cache.FRAMES, cache.GAZES, cache.REBUILDS, cache.CURVES):
            c.clear()
        kwargs = dict(num_frames=args.frames, gazer=args.gazer, ratio=d.gazing_ratio, progress=no_progress)
        t, first = timed(callbacks.gaze_action, args.video, threshold=d.threshold, **kwargs)
        rows.append(("first result, callback only (fresh frame cache)", t, "<= 3"))
        moves = [timed(callbacks.gaze_action, args.video, threshold=th, **kwargs)[0] for th in thresholds]
        rows.append((f"threshold move, callback (median of {len(moves)})", median(moves), "<= 2"))
        rows.append(("threshold move, callback (slowest)", max(moves), "<= 2"))
        view = first[-1]
        scrub = [timed(callbacks.frame_action, view, i)[0] for i in range(args.frames)]
        rows.append(("frame scrubber (median)", median(scrub), ""))
        t, _ = timed(callbacks.curve_action, view, progress=no_progress)
        rows.append(("slots-vs-threshold curve (after the first result)", t, ""))
        ratio = d.gazing_ratio / 2  # a ratio move: a new gaze, then a new curve (no point of it cached)
        t, moved = timed(callbacks.gaze_page_action, args.video, args.frames, 0, 0, args.gazer, "paint", d.threshold,
                         ratio, 0, view, progress=no_progress)
        rows.append(("ratio move, page callback", t, "<= 2"))
        t, _ = timed(callbacks.curve_action, moved[-2], progress=no_progress)
        rows.append((f"slots-vs-threshold curve (after the ratio move, {pipeline.SWEEP_WORKERS} threads)", t, ""))

    print(f"app speed: {Path(args.video).name}, {args.frames} frames, gazer {args.gazer}, reconstructor paint, "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPU cores, "
          f"1-min load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after (other processes slow it)")
    width = max(len(r[0]) for r in rows)
    print(f"{'step'.ljust(width)}  wall s  CPU s  target (wall)")
    for name, (wall, cpu), target in rows:
        print(f"{name.ljust(width)}  {wall:6.2f}  {cpu:5.2f}  {target}")


if __name__ == "__main__":
    main()
