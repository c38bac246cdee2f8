"""1K-frame 4K, measured: gaze every 16-frame chunk of every 224-px tile of a large video, streamed.

    .venv/bin/python benchmarks/scale.py --frames 64 256 --size 3840x2160 [--video PATH] [--gazer NAME|PATH|full-random]
        [--tile 224] [--batch-size 32] [--ratio 0.75] [--threshold 0.2] [--device cuda] [--keep DIR]

Makes a video of `--size` with the ffmpeg of imageio-ffmpeg (testsrc2, libx264 -preset ultrafast; in a
temporary folder, or in --keep DIR and reused from there), or takes `--video`. For each `--frames N` it runs,
in a fresh Python (so that one run's peak memory is its own), what `python -m playground gaze --tile 224
--frames all` does before rebuilding: `video.stream_video` decodes the first N frames at the native size
chunk by chunk and `whole_video.VideoGazer.chunks` gazes every (chunk, tile) clip, `--batch-size` at a time.

It prints one row per N: decode and gaze seconds, clips per second, tokens kept against all tokens
(265 slots per tile and frame), peak RSS (getrusage) and the RSS after the first and the last chunk, the
peak RSS of the ffmpeg process that decodes (a child), and on CUDA the peak GPU memory
(torch.cuda.max_memory_allocated). Memory bounded by the batch shows as the same
peak for every N.

`--gazer`: `autogaze-playground` (default, the gazer trained here; 447k parameters), `full-random` (the
released architecture at full size, ~3M parameters, random weights: the speed and memory of the real
model, not its choices), or any name or folder `load_gazer` takes (e.g. nvidia/AutoGaze where it can be
downloaded).
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
        subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi",
                        "-i", f"testsrc2=size={size}:rate={fps}", "-frames:v", str(frames), "-c:v", "libx264",
                        "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(tmp)], check=True)
        tmp.rename(path)
        print(f"made {path.name} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - start:.1f} s",
              flush=True)
    return path


def rss_mib() -> float:
    """This process's resident memory now (MiB), from /proc."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def load(name: str, device: str | None):
    import torch

    import playground as pg

    if name != "full-random":
        return pg.load_gazer(name, device=device)
    from playground.models.autogaze_model import AutoGazeConfig, AutoGazeNet
    from playground.gazers.autogaze import AutoGazeGazer
    from playground.training.run_folder import config_template
    from playground.training.trainer import init_weights

    torch.manual_seed(0)
    net = AutoGazeNet(AutoGazeConfig.from_dict(config_template("full")))
    init_weights(net)
    return AutoGazeGazer(net, device=device, source="full-size config, random weights")


def child(args: argparse.Namespace) -> None:
    """One measured run (in its own process): stream, gaze every clip, print one JSON line."""
    import torch

    from playground import knobs
    from playground.video import stream_video
    from playground.video_run import timed_items
    from playground.whole_video import CHUNK_LEN, VideoGazer

    gazer = load(args.gazer, args.device)
    cuda = gazer.device.type == "cuda"
    stream = stream_video(args.video, chunk_len=CHUNK_LEN, num_frames=args.frames[0], max_side=None,
                          max_frame_pixels=None)
    seconds = {"decode": 0.0}
    gazer.gaze(stream_video(args.video, num_frames=16, max_side=None, max_frame_pixels=None)
               .chunks.__next__()[:, :224, :224], gazing_ratio=args.ratio)  # warm-up (not timed)
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    vg = VideoGazer(gazer, tile=args.tile, batch_size=args.batch_size)
    clips = kept = total = 0
    rss = []
    start = time.perf_counter()
    for chunk in vg.chunks(timed_items(stream.chunks, seconds), args.ratio, knobs.threshold_or_off(args.threshold)):
        clips += chunk.layout.num_tiles
        kept += chunk.gaze.num_gazed
        total += chunk.num_frames * chunk.layout.num_tiles * chunk.gaze.grid.num_slots
        rss.append(rss_mib())
        del chunk  # hold one chunk at a time, as the CLI does
    if cuda:
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    print(json.dumps({
        "frames": stream.num_frames, "size": f"{stream.width}x{stream.height}", "clips": clips,
        "tiles": vg_tiles(stream, args.tile), "decode_s": seconds["decode"], "gaze_s": wall - seconds["decode"],
        "wall_s": wall, "kept": kept, "total": total,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ffmpeg_peak_rss_mib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "rss_first_mib": rss[0], "rss_last_mib": rss[-1],
        "gpu_peak_mib": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
        "device": str(gazer.device), "gazer": gazer.name, "source": getattr(gazer, "source", "")}))


def vg_tiles(stream, tile: int) -> int:
    from playground.tiling import tile_layout

    return tile_layout(stream.height, stream.width, tile).num_tiles


def machine(device: str | None) -> str:
    import torch

    text = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}"
    if device and device.startswith("cuda") or (device is None and torch.cuda.is_available()):
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--frames", type=int, nargs="+", default=[64])
    p.add_argument("--size", default="3840x2160")
    p.add_argument("--video", default=None, help="gaze this video instead of a generated one")
    p.add_argument("--gazer", default="autogaze-playground")
    p.add_argument("--tile", type=int, default=224)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--ratio", type=float, default=0.75, help="cap on slots per frame and tile (default 0.75, the CLI's)")
    p.add_argument("--threshold", type=float, default=0.2, help="error threshold (default 0.2, the CLI's; 0 = off)")
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
        print(f"machine: {machine(args.device)}\nvideo: {video.name}; gazer {args.gazer}, tile {args.tile}, "
              f"batch {args.batch_size}, ratio {args.ratio}, threshold {args.threshold}\n", flush=True)
        head = ("| frames | size | clips | decode s | gaze s | clips/s | tokens kept | peak RSS MiB | "
                "RSS 1st/last chunk MiB | ffmpeg peak RSS MiB | peak GPU MiB |")
        print(head + "\n|" + "---|" * 11, flush=True)
        for n in args.frames:
            argv = [sys.executable, __file__, "--child", "--video", str(video), "--frames", str(n), "--gazer", args.gazer,
                    "--tile", str(args.tile), "--batch-size", str(args.batch_size), "--ratio", str(args.ratio),
                    "--threshold", str(args.threshold)] + (["--device", args.device] if args.device else [])
            proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
            if proc.returncode != 0:
                print(f"| {n} | failed: {proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode} |")
                continue
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            gpu = "-" if r["gpu_peak_mib"] is None else f"{r['gpu_peak_mib']:.0f}"
            print(f"| {r['frames']} | {r['size']} | {r['clips']} | {r['decode_s']:.1f} | {r['gaze_s']:.1f} | "
                  f"{r['clips'] / r['wall_s']:.1f} | {r['kept']:,} / {r['total']:,} ({100 * r['kept'] / r['total']:.1f}%) | "
                  f"{r['peak_rss_mib']:.0f} | {r['rss_first_mib']:.0f} / {r['rss_last_mib']:.0f} | "
                  f"{r['ffmpeg_peak_rss_mib']:.0f} | {gpu} |", flush=True)


if __name__ == "__main__":
    main()
