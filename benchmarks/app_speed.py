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

`--against GIT_REV` instead times the moves' computation (`playground.app.pipeline`, no server and no
drawing: a threshold move's gaze and rebuild, the curve after the first result, a ratio move, the curve
after it) here and at that revision, checked out once into a `git worktree`, each side in its own
Python, alternating ours, theirs, ours, theirs so that a slow spell of a shared machine hits both;
it prints each side's best and their ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

from timing import alternate, scratch_worktree

HERE = Path(__file__).resolve().parents[1]
ROOT = Path(os.environ.get("PLAYGROUND_ROOT") or HERE)  # `--against` points a child at another checkout
sys.path.insert(0, str(ROOT))


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


def view_of(outputs):
    """The `view` output of a gaze callback: by name (a mapping) or, in older trees, the last of a tuple."""
    return outputs["view"] if isinstance(outputs, dict) else outputs[-1]


def pipeline_moves(video: str, frames: int, gazer: str) -> dict[str, float]:
    """Wall seconds of each move's computation in this process's playground (`pipeline`, fresh caches), and
    the CPU seconds (all threads) of the curves."""
    from dataclasses import replace

    from playground.app import cache, pipeline
    from playground.app.limits import Limits

    settings = pipeline.RunSettings(num_frames=frames, gazer=gazer)
    clip = pipeline.load_clip(video, settings, Limits())
    out = {"first result (gaze + rebuild)": timed(pipeline.gaze_and_rebuild, clip, settings)[0][0]}
    moves = [timed(pipeline.gaze_and_rebuild, clip, replace(settings, threshold=th))[0][0] for th in (0.15, 0.25, 0.3)]
    out["threshold move (gaze + rebuild, median of 3)"] = statistics.median(moves)
    curve = "slots-vs-threshold curve after the first result"
    (out[curve], out[f"{curve}, CPU s"]), _ = timed(pipeline.threshold_curve, clip, settings)
    ratio = replace(settings, gazing_ratio=settings.gazing_ratio / 2)
    out["ratio move (gaze + rebuild)"] = timed(pipeline.gaze_and_rebuild, clip, ratio)[0][0]
    curve = "slots-vs-threshold curve after the ratio move"
    (out[curve], out[f"{curve}, CPU s"]), _ = timed(pipeline.threshold_curve, clip, ratio)
    # the gazer alone, best of 3: its whole budget, and a threshold so high that only the per-frame work is left
    gazer_ = cache.get_gazer(gazer)
    for label, th in (("the whole budget", None), ("threshold 1.0, the work per frame", 1.0)):
        seconds = [
            timed(gazer_.gaze, clip.frames, gazing_ratio=settings.gazing_ratio, task_loss_requirement=th)[0][0]
            for _ in range(3)
        ]
        out[f"{gazer} alone: {label}"] = min(seconds)
    return out


def against(rev: str, video: str, frames: int, gazer: str, rounds: int = 2) -> None:
    """`pipeline_moves` here and at `rev` (a scratch worktree), alternating processes; print both and the ratio."""
    load_before = os.getloadavg()[0]
    argv = [sys.executable, __file__, "--child", "--video", video, "--frames", str(frames), "--gazer", gazer]
    with scratch_worktree(HERE, rev) as (tree, sha):
        best = alternate(
            {
                "this tree": (argv, {"PLAYGROUND_ROOT": str(HERE)}),
                f"{rev} ({sha[:10]})": (argv, {"PLAYGROUND_ROOT": str(tree)}),
            },
            rounds,
        )
    ours, theirs = best
    print(
        f"app moves' computation: {Path(video).name}, {frames} frames, gazer {gazer}, reconstructor paint, "
        f"{os.cpu_count()} CPU cores, best of {rounds} processes per side, 1-min load average "
        f"{load_before:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    print(f"\n| step | {ours} s | {theirs} s | speed-up |\n|---|---|---|---|")
    for step in best[ours]:
        a, b = best[ours][step], best[theirs][step]
        print(f"| {step} | {a:.2f} | {b:.2f} | {b / a:.2f}x |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default=str(HERE / "assets" / "bigbuckbunny_clip.mp4"))
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--gazer", default="greedy")
    parser.add_argument(
        "--against",
        default=None,
        metavar="GIT_REV",
        help="time the moves' computation here and at this git revision, alternating processes",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)  # one side of --against
    args = parser.parse_args()
    if args.child:
        print(json.dumps(pipeline_moves(args.video, args.frames, args.gazer)))
        return
    if args.against:
        against(args.against, args.video, args.frames, args.gazer)
        return

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
        t, out = timed(
            client.predict,
            handle_file(args.video),
            args.frames,
            0,
            0,
            args.gazer,
            "paint",
            d.threshold,
            d.gazing_ratio,
            api_name="/gaze",
        )
        rows.append(("first result, through the server (cold)", t, "<= 3"))
        server_moves = [
            timed(
                client.predict,
                handle_file(args.video),
                args.frames,
                0,
                0,
                args.gazer,
                "paint",
                th,
                d.gazing_ratio,
                api_name="/gaze",
            )[0]
            for th in thresholds[:3]
        ]
        rows.append(("threshold move, through the server (re-uploads)", median(server_moves), ""))

        for c in (cache.FRAMES, cache.GAZES, cache.REBUILDS, cache.CURVES):
            c.clear()
        kwargs = dict(num_frames=args.frames, gazer=args.gazer, ratio=d.gazing_ratio, progress=no_progress)
        t, first = timed(callbacks.gaze_action, args.video, threshold=d.threshold, **kwargs)
        rows.append(("first result, callback only (fresh frame cache)", t, "<= 3"))
        moves = [timed(callbacks.gaze_action, args.video, threshold=th, **kwargs)[0] for th in thresholds]
        rows.append((f"threshold move, callback (median of {len(moves)})", median(moves), "<= 2"))
        rows.append(("threshold move, callback (slowest)", max(moves), "<= 2"))
        view = view_of(first)
        scrub = [timed(callbacks.frame_action, view, i)[0] for i in range(args.frames)]
        rows.append(("frame scrubber (median)", median(scrub), ""))
        t, _ = timed(callbacks.curve_action, view, progress=no_progress)
        rows.append(("slots-vs-threshold curve (after the first result)", t, ""))
        ratio = d.gazing_ratio / 2  # a ratio move: a new gaze, then a new curve (no point of it cached)
        t, moved = timed(
            callbacks.gaze_page_action,
            args.video,
            args.frames,
            0,
            0,
            args.gazer,
            "paint",
            d.threshold,
            ratio,
            0,
            view,
            progress=no_progress,
        )
        rows.append(("ratio move, page callback", t, "<= 2"))
        t, _ = timed(
            callbacks.curve_action, moved["view"] if isinstance(moved, dict) else moved[-2], progress=no_progress
        )
        rows.append((f"slots-vs-threshold curve (after the ratio move, {pipeline.SWEEP_WORKERS} threads)", t, ""))

    print(
        f"app speed: {Path(args.video).name}, {args.frames} frames, gazer {args.gazer}, reconstructor paint, "
        f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPU cores, "
        f"1-min load average {load_before:.1f} before / {os.getloadavg()[0]:.1f} after (other processes slow it)"
    )
    width = max(len(r[0]) for r in rows)
    print(f"{'step'.ljust(width)}  wall s  CPU s  target (wall)")
    for name, (wall, cpu), target in rows:
        print(f"{name.ljust(width)}  {wall:6.2f}  {cpu:5.2f}  {target}")


if __name__ == "__main__":
    main()
