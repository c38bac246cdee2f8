"""`python -m playground gaze VIDEO`: gaze a video, rebuild it, and write gaze.json, metrics.csv and
the overlay and reconstruction videos into --out, staged beside it and moved into place at the end.

Two reads, one run path (`playground.video_run`) and one gaze.json schema (`video_run.GAZE_FORMAT`):
- by default, `--frames N` frames spread over the video are read at `--max-side` and gazed as one
  clip, exactly as the app and `gazer.gaze` do: the run's one chunk and one tile;
- with `--tile PX` or `--frames all`, the video is read, gazed (every 16-frame chunk of every
  tile, `--batch-size` clips at a time), rebuilt and written chunk by chunk (`video_run.run_video`),
  so memory is bounded by the batch, not by the video's length or size.

The parser imports no torch (`gaze --help` stays under a second): the functions that run import the rest.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import knobs
from ..knobs import BATCH_SIZE, MAX_SIDE, PREVIEW_WIDTH
from .args import (
    add_gazing_ratio,
    add_threshold,
    add_video_arguments,
    check_out_folder,
    knob,
    read_frames_and_header,
    read_side_of,
    stream_frames,
    whole_number_arg,
)

if TYPE_CHECKING:
    import numpy as np


def add_parser(subparsers) -> None:
    """Register the `gaze` subcommand on the main CLI's subparsers."""
    p = subparsers.add_parser("gaze", description="Gaze a video and rebuild it from the gazed patches.")
    add_video_arguments(p, streamed=True)
    p.add_argument(
        "--gazer",
        default=knobs.GAZER,
        help=f"greedy | framediff | random | full | an AutoGaze hub id or folder (default {knobs.GAZER})",
    )
    p.add_argument(
        "--reconstructor",
        default=knobs.RECONSTRUCTOR,
        help=f"paint | a VideoMAE_AutoGaze checkpoint or hub id (default {knobs.RECONSTRUCTOR})",
    )
    add_threshold(p)
    add_gazing_ratio(p)
    p.add_argument(
        "--stop",
        type=knob(knobs.stop, "--stop"),
        default=knobs.STOP,
        metavar="|".join(knobs.STOPS),
        help="how a learned gazer ends a frame at the threshold: predicted (its loss head's prediction, "
        "the reference's rule) or measured (paint's loss measured after each gaze: exact for "
        f"--reconstructor paint, which it needs) (default {knobs.STOP})",
    )
    p.add_argument(
        "--clip-len",
        type=knob(knobs.clip_len, "--clip-len"),
        default=knobs.CLIP_LEN,
        help="AutoGaze restarts its caches every N frames (it was trained on 16-frame clips; "
        "default 16; 0 = carry them over all frames, as the reference's single call)",
    )
    p.add_argument(
        "--tile",
        type=whole_number_arg(16, MAX_SIDE),
        default=None,
        metavar="PX",
        help="cut frames (at the native size unless --max-side) into PX-pixel squares and gaze every 16-frame "
        "chunk of every tile; the overlay shows the tile grid (default: the whole frame as one tile)",
    )
    p.add_argument(
        "--batch-size",
        type=whole_number_arg(1, 4096),
        default=BATCH_SIZE,
        help=f"clips (chunk x tile) gazed and rebuilt together with --tile or --frames all (default {BATCH_SIZE})",
    )
    p.add_argument(
        "--preview-width",
        type=whole_number_arg(0, MAX_SIDE),
        default=PREVIEW_WIDTH,
        metavar="PX",
        help=f"with --tile or --frames all, write the videos at most PX wide (default {PREVIEW_WIDTH}; "
        "0 = the frame's width)",
    )
    p.add_argument("--device", default=None, help="cpu | cuda | cuda:N (default: $PLAYGROUND_DEVICE, else auto)")
    p.add_argument("--out", default="gaze_out", help="output folder (default ./gaze_out)")
    p.set_defaults(func=run)


def gaze_with_progress(gazer, frames: np.ndarray, ratio, threshold, show: bool):
    """Gaze frame by frame with a progress bar on stderr (shown for long videos or a terminal)."""
    from tqdm.auto import tqdm

    from ..gazers.base import gaze_frames

    with tqdm(total=len(frames), desc="gazing", unit="frame", disable=not show, file=sys.stderr) as bar:
        return gaze_frames(gazer, frames, ratio, threshold, on_frame=lambda done, total: bar.update(1))


def write_outputs(
    tmp: Path,
    frames: np.ndarray,
    fps: float,
    gaze,
    rec,
    card: dict[str, Any],
    totals: dict[str, Any],
    rows: list[dict[str, Any]],
    source: dict[str, Any],
) -> None:
    """The app's downloads (`EXPORT_FILES`) into `tmp`: gaze.json (the one-chunk, one-tile case of
    `video_run`'s), masks.npz, metrics.csv and run_card.json (numbers from `playground.report`, card and masks
    from `playground.run_card`), the overlay and the reconstruction at the clip's aspect ratio."""
    from tqdm.auto import tqdm

    from ..report import write_metrics_csv
    from ..run_card import rebuilt_frames, write_masks_npz, write_run_card
    from ..video import write_video
    from ..video_run import write_clip_gaze_json
    from ..viz import overlay_frames

    write_clip_gaze_json(tmp / "gaze.json", gaze, rec, (frames.shape[2], frames.shape[1]), source, totals)
    write_masks_npz(gaze, tmp / "masks.npz")
    write_metrics_csv(rows, tmp / "metrics.csv")
    write_run_card(card, tmp / "run_card.json")
    with tqdm(
        total=2, desc="writing videos", unit="video", disable=not show_progress(len(frames)), file=sys.stderr
    ) as bar:
        write_video(tmp / "overlay.mp4", overlay_frames(frames, gaze), fps=fps)
        bar.update(1)
        write_video(tmp / "reconstruction.mp4", rebuilt_frames(frames, rec), fps=fps)
        bar.update(1)


def show_progress(frames: int) -> bool:
    """Progress bars on stderr for long runs or a terminal."""
    return frames > 16 or sys.stderr.isatty()


def card_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run card's settings: the app's `RunSettings` fields (same names, same values for the same run),
    then what only the CLI sets."""
    return {
        "num_frames": args.frames,
        "fps": float(args.fps),
        "start": float(args.start),
        "gazer": args.gazer,
        "reconstructor": args.reconstructor,
        "threshold": args.threshold,
        "gazing_ratio": args.gazing_ratio,
        "tile": args.tile or 0,
        "stop": args.stop,
        "cli": {
            "clip_len": args.clip_len,
            "max_side": read_side_of(args),
            "batch_size": args.batch_size,
            "preview_width": args.preview_width,
            "command": " ".join(["python -m playground", *sys.argv[1:]]),
        },
    }


def cli_card(args, gazer, reconstructor, video: dict[str, Any], totals: dict[str, Any], layout=None) -> dict[str, Any]:
    """The run card, as the app writes it (`run_card.make_card` with gaze.json's `totals`)."""
    from ..run_card import make_card

    return make_card(
        gazer,
        reconstructor,
        (args.gazer, args.reconstructor),
        video,
        card_settings(args),
        totals,
        layout,
        args.batch_size,
    )


def publish(tmp: Path, out: Path) -> None:
    """Move finished outputs from `tmp` into `out` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    for item in tmp.iterdir():
        shutil.move(str(item), str(out / item.name))


def run(args: argparse.Namespace) -> int:
    """Run the `gaze` subcommand; returns the exit status."""
    from ..report import clip_rows
    from ..staging import staging_folder
    from ..tiling import tile_layout
    from ..video import NO_LIMITS, input_limits
    from ..video_run import clip_totals

    if args.tile is not None or args.frames == "all":
        return run_streamed(args)
    out = check_out_folder(args.out)
    started = time.perf_counter()
    frames, fps, info = read_frames_and_header(args)
    video = _video_record(args, (frames.shape[2], frames.shape[1]), len(frames), fps, info)
    gazer, reconstructor = _load_models(args)
    with input_limits(**NO_LIMITS):  # the frames were read within the CLI's own limits (--max-frames, --max-pixels)
        gaze = gaze_with_progress(
            gazer, frames, args.gazing_ratio, knobs.threshold_or_off(args.threshold), show=show_progress(len(frames))
        )
        rec = reconstructor.reconstruct(frames, gaze)
    totals = clip_totals(gaze, rec, {**gaze.seconds, **rec.seconds}, rows := clip_rows(gaze, rec))
    card = cli_card(args, gazer, reconstructor, video, totals)
    source = {"video": str(args.video), "frames": len(frames), "fps": fps}
    out.parent.mkdir(parents=True, exist_ok=True)
    with staging_folder(out.parent) as tmp:  # also removes stale ones that killed runs left there
        write_outputs(tmp, frames, fps, gaze, rec, card, totals, rows, source)
        publish(tmp, out)
    print(
        summary_text(
            args,
            (frames.shape[2], frames.shape[1]),
            tile_layout(*frames.shape[1:3]),
            totals,
            rows,
            gaze.gazer,
            gaze.settings,
            rec.reconstructor,
            time.perf_counter() - started,
            out,
        )
    )
    return 0


def run_streamed(args: argparse.Namespace) -> int:
    """`gaze --tile PX` / `--frames all`: read, gaze, rebuild and write chunk by chunk (`playground.video_run`)."""
    from tqdm.auto import tqdm

    from ..run_card import write_run_card
    from ..staging import staging_folder
    from ..tiling import tile_layout
    from ..video_run import preview_size, run_video
    from ..whole_video import clip_count

    out = check_out_folder(args.out)
    started = time.perf_counter()
    stream = stream_frames(args, tiled=args.tile is not None)
    gazer, reconstructor = _load_models(args)
    layout = tile_layout(stream.height, stream.width, args.tile)
    total_clips = clip_count(stream.num_frames, layout)
    source = {
        "video": str(args.video),
        "frames": stream.num_frames,
        "first_frame": int(stream.indices[0]),
        "fps": stream.play_fps,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    hidden = not (total_clips > 1 or sys.stderr.isatty())
    with (
        staging_folder(out.parent) as tmp,
        tqdm(total=total_clips, desc="gazing", unit="clip", file=sys.stderr, disable=hidden) as bar,
        tqdm(
            total=total_clips, desc="rebuilding, drawing, writing", unit="clip", file=sys.stderr, disable=hidden
        ) as written,
    ):
        totals = run_video(
            stream.chunks,
            gazer,
            reconstructor,
            tmp,
            fps=stream.play_fps,
            tile=args.tile,
            batch_size=args.batch_size,
            gazing_ratio=args.gazing_ratio,
            task_loss_requirement=knobs.threshold_or_off(args.threshold),
            preview_width=args.preview_width or None,
            total_frames=stream.num_frames,
            source=source,
            progress=lambda done, total: bar.update(done - bar.n),
            written=lambda done, total: set_bar(written, done),
        )
        video = _video_record(args, (stream.width, stream.height), stream.num_frames, stream.play_fps, stream.info)
        write_run_card(cli_card(args, gazer, reconstructor, video, totals.to_json(), layout), tmp / "run_card.json")
        publish(tmp, out)
    h, w = preview_size(layout.height, layout.width, args.preview_width or None)
    print(
        summary_text(
            args,
            (stream.width, stream.height),
            layout,
            totals.to_json(),
            totals.rows,
            gazer.name,
            totals.settings,
            reconstructor.name,
            time.perf_counter() - started,
            out,
            (w, h),
        )
    )
    return 0


def _load_models(args: argparse.Namespace):
    """(the gazer, the reconstructor) the flags name."""
    from .. import load_gazer, load_reconstructor
    from ..gazers import applicable_options

    knobs.stop(args.stop, "--stop", args.reconstructor)  # the measured stop measures paint: one line otherwise
    gazer = load_gazer(
        args.gazer, device=args.device, **applicable_options(args.gazer, clip_len=args.clip_len, stop=args.stop)
    )
    return gazer, load_reconstructor(args.reconstructor, device=args.device)


def _video_record(args: argparse.Namespace, size: tuple[int, int], frames: int, fps: float, info) -> dict[str, Any]:
    """The run card's video entry: the file's name and hash, its source facts, and the (W, H) frames read."""
    from ..run_card import sha256_of, source_facts, video_record

    return video_record(
        Path(args.video).name, sha256_of([Path(args.video)]), source_facts(size, frames, fps, info), frames, size, fps
    )


def set_bar(bar, done: float) -> None:
    """Show `done` (a float count: `run_video`'s `written`) on a tqdm bar, to one decimal."""
    bar.n = round(done, 1)
    bar.refresh()


STAGE_NAMES = {"write": "draw+write"}  # a run's seconds, as the summary names them


def summary_text(
    args,
    read_size: tuple[int, int],
    layout,
    totals: dict[str, Any],
    rows: list[dict[str, Any]],
    gazer: str,
    settings: dict[str, Any],
    reconstructor: str,
    seconds: float,
    out: Path,
    videos_at: tuple[int, int] | None = None,
) -> str:
    """The run's summary on stdout, whole-frame or tiled, from gaze.json's `totals` and metrics.csv's `rows`:
    what was read (and the tiles), the gazer and what its threshold meant, slots kept (per scale), the
    rebuild, the gazer's loss beside the measured one with the frames over the threshold, time, outputs.

    `read_size`: (W, H) of the frames read; `settings`: the gaze's settings; `videos_at`: (w, h) of a streamed
    run's videos (None: a whole-frame run, its videos at the clip's size)."""
    from ..geometry import DEFAULT_GRID
    from ..report import loss_check_text, psnr_words, scale_totals
    from ..run_card import EXPORT_FILES, TILED_EXPORT_FILES

    t = totals
    T, tiles, kept, total = t["frames"], t["tiles"], t["slots_kept"], t["slots_total"]
    canvas = DEFAULT_GRID.canvas
    streamed, whole = videos_at is not None, layout.whole_frame
    per_frame = total // max(1, T * tiles)
    knob_text = (
        f"threshold={args.threshold}  max ratio={args.gazing_ratio}"
        + (f"  stop={settings['stop']}" if settings.get("stop") else "")
        + (f"  caches restart every {settings['clip_len']} frames" if settings.get("clip_len") else "")
        + (f"  batch={args.batch_size}" if streamed else "")
    )
    rebuilt = (
        f"loss {t['reconstruction_loss']:.4f}  PSNR {psnr_words(t['psnr_db'], t['exact_frames'], T * tiles)}"
        + (f"  SSIM {t['ssim']:.3f}" if t.get("ssim") is not None else "")
        + ("" if whole else " (mean over tiles)")
    )
    lines = [
        f"video          {args.video}  ({T} frames read at {read_size[0]}x{read_size[1]} px"
        f"{', chunk by chunk' if streamed else ''}; the gazer resizes {'them' if whole else 'each tile'} to "
        f"{canvas}x{canvas})",
        *([] if whole else [f"tiles          {layout.describe()}"]),
        f"gazer          {gazer}  {knob_text}",
        f"threshold      {t['threshold_note']}",
        f"slots kept     {kept} / {total}  ({100 * kept / max(1, total):.1f}% of {per_frame} per frame"
        f"{'' if whole else ' and tile'}; {kept / max(1, T):.1f} per frame{'' if whole else f' over {tiles} tiles'})",
        "per scale      " + ", ".join(f"{name[6:]}: {n}" for name, n in scale_totals(rows).items()),
        f"reconstructor  {reconstructor}  {rebuilt}",
        *([f"loss check     {line}"] if (line := loss_check_text(t)) else []),
        "time           "
        + ", ".join(
            f"{STAGE_NAMES.get(k, k)} {v:.3f} s" for k, v in t["seconds"].items() if k != "measure"
        )  # measuring is part of gazing
        + f", total {seconds:.2f} s",
        f"outputs        {out}/"
        + " ".join(TILED_EXPORT_FILES if streamed else EXPORT_FILES)
        + (f" (videos at {videos_at[0]}x{videos_at[1]})" if streamed else ""),
    ]
    return "\n".join(lines)
