"""4K by tiles, measured end to end: what `python -m playground gaze VIDEO --tile PX --frames N` does, per tile size.

    .venv/bin/python benchmarks/scale.py --tiles 224 448 896 --frames 16 64 --size 3840x2160 [--video PATH]
        [--gazer NAME|PATH|full-random] [--reconstructor paint] [--batch-size 8] [--ratio 0.75] [--threshold 0.2]
        [--preview-width 1280] [--device cuda] [--keep DIR]

Makes a video of `--size` with the ffmpeg of imageio-ffmpeg (testsrc2, libx264 -preset ultrafast; in a
temporary folder, or in --keep DIR and reused from there), or takes `--video`. For each tile size and each
`--frames N` it runs, in a fresh Python (so that one run's peak memory is its own), the whole streamed path of
`gaze --tile PX`: `video.stream_video` decodes the first N frames at the native size chunk by chunk, and
`video_run.run_video` gazes every (chunk, tile) clip `--batch-size` at a time, rebuilds the tiles with the
reconstructor, draws the overlay and writes gaze.json, metrics.csv and both videos (into a scratch folder).

It prints one row per (tile, N): the seconds of each phase as `run_video` counts them (decode, gaze, rebuild,
draw+write) and in all, clips per second, tokens kept against all tokens (265 slots per tile and frame), peak
RSS (getrusage) and the RSS after the first and the last batch of clips, the largest peak RSS of the ffmpeg
processes (the decoder and the two encoders, children; sampled every 0.1 s), and on CUDA the peak GPU
memory (torch.cuda.max_memory_allocated).
Memory bounded by the batch shows as the same peak for every N and about the same for every tile size.
`PYTHONPATH=OTHER_CHECKOUT` measures another version of the package with the same script.

`--gazer`: `autogaze-playground` (default, the gazer trained here; 447k parameters), `full-random` (the
released architecture at full size, ~3M parameters, random weights: the speed and memory of the real
model, not its choices), or any name or folder `load_gazer` takes (e.g. greedy, or nvidia/AutoGaze where it
can be downloaded).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_video(folder: Path, size: str, frames: int, fps: int = 30) -> Path:
    """A testsrc2 clip of `size` with at least `frames` frames (made once per folder)."""
    import imageio_ffmpeg

    path = folder / f"testsrc2_{size}_{frames}f.mp4"
    if not path.exists():
        start = time.perf_counter()
        tmp = path.with_suffix(".part.mp4")
        subprocess.run(
            [
                imageio_ffmpeg.get_ffmpeg_exe(),
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
                f"testsrc2=size={size}:rate={fps}",
                "-frames:v",
                str(frames),
                "-c:v",
                "libx264",
                "-preset",
                "ultrafast",
                "-pix_fmt",
                "yuv420p",
                str(tmp),
            ],
            check=True,
        )
        tmp.rename(path)
        print(
            f"made {path.name} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
    return path


def rss_mib() -> float:
    """This process's resident memory now (MiB), from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def children_peak_mib() -> float:
    """The largest peak RSS (VmHWM, MiB) among this process's live children (the ffmpeg decoder and encoders).

    getrusage(RUSAGE_CHILDREN) is no measure of them: it counts a child's memory before its exec, a copy of
    this process's.
    """
    peak = 0.0
    for task in Path("/proc/self/task").iterdir():
        try:
            pids = (task / "children").read_text().split()
        except OSError:
            continue
        for pid in pids:
            try:
                if "ffmpeg" not in Path(f"/proc/{pid}/comm").read_text():  # not yet exec'd: a copy of this process
                    continue
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]) / 1024)
            except OSError:
                pass
    return peak


def load(name: str, device: str | None):
    import torch

    import playground as pg

    if name != "full-random":
        return pg.load_gazer(name, device=device)
    from playground.gazers.autogaze import AutoGazeGazer
    from playground.models.autogaze import AutoGazeConfig, AutoGazeNet
    from playground.training.run_folder import config_template
    from playground.training.trainer import init_weights

    torch.manual_seed(0)
    net = AutoGazeNet(AutoGazeConfig.from_dict(config_template("full")))
    init_weights(net)
    return AutoGazeGazer(net, device=device, source="full-size config, random weights")


def child(args: argparse.Namespace) -> None:
    """One measured run (in its own process): stream, gaze, rebuild and write every clip; print one JSON line."""
    import torch

    from playground import knobs, load_reconstructor
    from playground.knobs import CLIP_LEN
    from playground.video import stream_video
    from playground.video_run import run_video

    gazer = load(args.gazer, args.device)
    reconstructor = load_reconstructor(args.reconstructor, device=args.device)
    cuda = gazer.device.type == "cuda"
    warm = next(stream_video(args.video, num_frames=16, max_side=None, max_frame_pixels=None).chunks)[:, :224, :224]
    reconstructor.reconstruct(warm, gazer.gaze(warm, gazing_ratio=args.ratio))  # warm-up (not timed)
    del warm
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    stream = stream_video(
        args.video, chunk_len=CLIP_LEN, num_frames=args.frames[0], max_side=None, max_frame_pixels=None
    )
    rss, ffmpeg, running = [], [0.0], threading.Event()
    running.set()

    def watch_children() -> None:  # the decoder ends before the encoders start: look at them often
        while running.is_set():
            ffmpeg[0] = max(ffmpeg[0], children_peak_mib())
            time.sleep(0.1)

    watcher = threading.Thread(target=watch_children, daemon=True)
    watcher.start()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        totals = run_video(
            stream.chunks,
            gazer,
            reconstructor,
            Path(out),
            fps=stream.play_fps,
            tile=args.tiles[0],
            batch_size=args.batch_size,
            gazing_ratio=args.ratio,
            task_loss_requirement=knobs.threshold_or_off(args.threshold),
            preview_width=args.preview_width or None,
            total_frames=stream.num_frames,
            progress=lambda done, total: rss.append(rss_mib()),
        )
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
    running.clear()
    watcher.join()
    t = totals.to_json()
    print(
        json.dumps(
            {
                "tile": args.tiles[0],
                "frames": t["frames"],
                "size": f"{stream.width}x{stream.height}",
                "tiles": t["tiles"],
                "clips": -(-t["frames"] // CLIP_LEN) * t["tiles"],
                "seconds": totals.seconds,
                "wall_s": wall,
                "kept": t["slots_kept"],
                "total": t["slots_total"],
                "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "ffmpeg_peak_rss_mib": ffmpeg[0],
                "rss_first_mib": rss[0],
                "rss_last_mib": rss[-1],
                "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
                "device": str(gazer.device),
                "gazer": gazer.name,
                "reconstructor": reconstructor.name,
                "source": getattr(gazer, "source", ""),
            }
        )
    )


def machine(device: str | None) -> str:
    import torch

    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    if device and device.startswith("cuda") or (device is None and torch.cuda.is_available()):
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, nargs="+", default=[16])
    p.add_argument("--tiles", "--tile", type=int, nargs="+", default=[224, 448, 896], help="tile sizes in pixels")
    p.add_argument("--size", default="3840x2160")
    p.add_argument("--video", default=None, help="gaze this video instead of a generated one")
    p.add_argument("--gazer", default="autogaze-playground")
    p.add_argument("--reconstructor", default="paint")
    p.add_argument("--batch-size", type=int, default=8, help="clips gazed and rebuilt together (default 8, the CLI's)")
    p.add_argument(
        "--ratio", type=float, default=0.75, help="cap on slots per frame and tile (default 0.75, the CLI's)"
    )
    p.add_argument("--threshold", type=float, default=0.2, help="error threshold (default 0.2, the CLI's; 0 = off)")
    p.add_argument("--preview-width", type=int, default=1280, help="written videos' width (default 1280, the CLI's)")
    p.add_argument("--device", default=None)
    p.add_argument("--keep", default=None, help="make (and reuse) the generated video in this folder")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        video = Path(args.video) if args.video else make_video(folder, args.size, max(args.frames))
        print(
            f"machine: {machine(args.device)}\nvideo: {video.name}; gazer {args.gazer}, reconstructor "
            f"{args.reconstructor}, batch {args.batch_size}, ratio {args.ratio}, threshold {args.threshold}, "
            f"preview {args.preview_width} px\n",
            flush=True,
        )
        head = (
            "| tile | tiles | frames | size | clips | decode s | gaze s | rebuild s | draw+write s | total s | "
            "clips/s | tokens kept | peak RSS MiB | RSS 1st/last batch MiB | ffmpeg peak RSS MiB | peak GPU MiB |"
        )
        print(head + "\n|" + "---|" * 16, flush=True)
        for tile in args.tiles:
            for n in args.frames:
                argv = [
                    sys.executable,
                    __file__,
                    "--child",
                    "--video",
                    str(video),
                    "--frames",
                    str(n),
                    "--tiles",
                    str(tile),
                    "--gazer",
                    args.gazer,
                    "--reconstructor",
                    args.reconstructor,
                    "--batch-size",
                    str(args.batch_size),
                    "--ratio",
                    str(args.ratio),
                    "--threshold",
                    str(args.threshold),
                    "--preview-width",
                    str(args.preview_width),
                ] + (["--device", args.device] if args.device else [])
                proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
                if proc.returncode != 0:
                    why = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode
                    print(f"| {tile} | | {n} | failed: {why} |", flush=True)
                    continue
                print(row(json.loads(proc.stdout.strip().splitlines()[-1])), flush=True)


def row(r: dict) -> str:
    """One table row of a child's JSON line."""
    s = r["seconds"]
    gpu = "-" if r["gpu_peak_mib"] is None else f"{r['gpu_peak_mib']:.0f}"
    return (
        f"| {r['tile']} | {r['tiles']} | {r['frames']} | {r['size']} | {r['clips']} | {s['decode']:.1f} | "
        f"{s['gaze']:.1f} | {s['reconstruct']:.1f} | {s['write']:.1f} | {r['wall_s']:.1f} | "
        f"{r['clips'] / r['wall_s']:.2f} | {r['kept']:,} / {r['total']:,} ({100 * r['kept'] / r['total']:.1f}%) | "
        f"{r['peak_rss_mib']:,.0f} | {r['rss_first_mib']:,.0f} / {r['rss_last_mib']:,.0f} | "
        f"{r['ffmpeg_peak_rss_mib']:.0f} | {gpu} |"
    )


if __name__ == "__main__":
    main()
