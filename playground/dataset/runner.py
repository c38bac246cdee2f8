"""One dataset run: list the clips, skip those already written, gaze the rest, write shards, errors,
the manifest and (with labels) the official `gazing_labels.json`.

`gaze_dataset(videos, out, settings, ...)` is what `python -m playground gaze-dataset` runs. A run
into a folder that already holds a dataset resumes it: the clips in its shards are skipped, new
shards are numbered on, and the settings that give the rows their meaning
(`ClipSettings.meaning`) must be the ones in its manifest. Shards are written every
`shard_clips` clips and once more when the run stops (finished, failed or interrupted), so an
interrupted run keeps what it gazed.

Files in `out`: `shards/shard-NNNNN.parquet` (`shards`), `manifest.json` (settings, versions,
counts), `errors.jsonl` (one JSON line per video or clip this run could not read or gaze:
video_path, clip_start (null for a whole video), error) and, with labels, `gazing_labels.json`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pyarrow as pa
import pyarrow.parquet as pq
import torch

from .. import __version__
from ..clips import CLIP_CHOICES, clip_key, list_clips
from ..errors import check
from ..jsonio import atomic_write, read_json, settings_differences, write_json
from ..video import READ_SIDE
from .engines import run_clips
from .job import ClipResult, ClipSettings, ClipWorker, label_of_row
from .shards import SCHEMA, SHARD_CLIPS, ShardWriter, done_clips, read_rows, shard_paths

MANIFEST = "manifest.json"
ERRORS = "errors.jsonl"
LABELS = "gazing_labels.json"
FORMAT = "autogaze-playground gaze-dataset 1"  # what a manifest says its folder holds
_LABEL_COLUMNS = ["video_path", "clip_start", "gazing_pos", "if_padded_gazing", "num_gazing_each_frame", "gazer_loss"]


@dataclass
class DatasetSummary:
    """What a run did (the CLI's last line) and what the folder holds now."""

    out: Path  # the dataset folder
    videos: int  # videos named by the inputs
    clips: int  # clips they give
    skipped: int  # clips already in the shards before this run
    gazed: int  # clips gazed and written by this run
    rows: int  # rows written by this run
    errors: list[dict[str, Any]] = field(default_factory=list)  # this run's errors.jsonl entries
    shards: int = 0  # shards written by this run
    total_rows: int = 0  # rows in the folder's shards
    seconds: float = 0.0  # wall time of the run
    labels: Path | None = None  # the labels file written, if asked for


def gaze_dataset(
    videos: Sequence[Path],
    out: Path,
    settings: ClipSettings,
    clips: str = "first",
    workers: int = 1,
    ray_address: str | None = None,
    labels: bool = False,
    shard_clips: int = SHARD_CLIPS,
    progress: Callable[[int, int], None] | None = None,
) -> DatasetSummary:
    """Gaze every clip of `videos` not yet in `out` and write them as shards (see the module doc).

    Args:
        videos: the video files (`inputs.find_inputs`).
        out: the dataset folder (created if needed; checked writable by the CLI first).
        settings: what the rows hold and how they are gazed.
        clips: "first" (each video's first clip) or "all" (every whole clip, back to back).
        workers: processes (or Ray actors) gazing at once; 1: in this process.
        ray_address: None: the local engine; "" a local Ray; else the Ray cluster to join.
        labels: also write `gazing_labels.json` from every row (needs a loss-measuring gazer and
            whole frames; `settings.measured` is then set by the caller).
        shard_clips: clips per shard.
        progress: called as `progress(done, total)` after each clip of this run.
    """
    started = time.perf_counter()
    check(clips in CLIP_CHOICES, f"clips must be one of {CLIP_CHOICES}, got {clips!r}")
    if labels:  # a label is a whole clip's trace, measured after each gaze
        check(settings.tile is None, "labels are made of whole frames: drop --tile")
        check(settings.measured, "labels need settings.measured (a gazer that measures its loss trace)")
    out = Path(out)
    previous = check_manifest(out, settings)
    # A resumed run with nothing left to do loads no gazer and starts no engine (no Ray): it only
    # counts. Otherwise the gazer is loaded first, so that a bad one fails in one line before any clip
    # is listed or process started.
    worker = None if previous is not None else ClipWorker(settings)
    done = done_clips(out)
    listed, video_errors = list_clips(videos, clips, settings.clip_len, known=done)  # done first clips: not probed
    if labels:
        check(
            len({c.key for c in listed}) == len(listed),
            "two clips have the same labels key (the last three parts of their paths): rename or move one",
        )
    todo = [c for c in listed if (str(c.path), c.start) not in done]
    if todo and worker is None:
        worker = ClipWorker(settings)
    summary = DatasetSummary(
        out,
        len(videos),
        len(listed),
        len(listed) - len(todo),
        0,
        0,
        [{"video_path": e["video"], "clip_start": None, "error": e["error"]} for e in video_errors],
    )
    run = {
        "clips": clips,
        "workers": workers,
        "engine": "local" if ray_address is None else "ray",
        "batch_size": settings.batch_size,
        "device": settings.device,
        "labels": labels,
        "shard_clips": shard_clips,
    }
    # Ray's import and start fail here; nothing to do: no engine at all
    results = run_clips(todo, settings, workers, ray_address, worker) if todo else iter(())
    gazer = gazer_versions(worker.gazer) if worker is not None else previous.get("versions", {}).get("gazer")
    writer = ShardWriter(out, shard_clips)  # the first write: every check above passed
    write_manifest(out, settings, run, gazer, summary)
    try:
        for n, result in enumerate(results, 1):
            if _take(result, writer, summary):
                write_errors(out, summary.errors)  # errors.jsonl keeps pace with the shards
            if progress is not None:
                progress(n, len(todo))
    finally:
        writer.flush()
        summary.shards = len(writer.written)
        summary.total_rows = sum(_num_rows(p) for p in shard_paths(out))
        summary.seconds = time.perf_counter() - started
        write_errors(out, summary.errors)
        write_manifest(out, settings, run, gazer, summary)
    if labels:
        summary.labels = write_labels_file(out) if summary.gazed or not _labels_current(out) else out / LABELS
    check(
        summary.total_rows > 0,
        f"no clip could be gazed: {summary.errors[0]['error'] if summary.errors else 'no clips'} (see {out / ERRORS})",
    )
    return summary


def _take(result: ClipResult, writer: ShardWriter, summary: DatasetSummary) -> bool:
    """Count one clip's result and buffer its rows; whether a shard was written."""
    if result.error is not None:
        summary.errors.append(
            {"video_path": str(result.clip.path), "clip_start": result.clip.start, "error": result.error}
        )
        return False
    summary.gazed += 1
    summary.rows += len(result.rows)
    return writer.add(result.rows) is not None


def _num_rows(path: Path) -> int:
    return pq.ParquetFile(path).metadata.num_rows


# ---- manifest, errors, labels ---------------------------------------------------------------


def check_manifest(out: Path, settings: ClipSettings) -> dict[str, Any] | None:
    """Refuse to add rows to a dataset made with other settings (its rows would mean something else);
    the folder's manifest (None for a new folder)."""
    path = out / MANIFEST
    if not path.exists():
        return None
    manifest = read_json(path, "dataset manifest")
    check(manifest.get("format") == FORMAT, f"{path} is not a gaze-dataset manifest; give another --out")
    differ = settings_differences(manifest.get("settings", {}), settings.meaning())
    check(
        not differ,
        f"{out} holds a dataset made with other settings ({'; '.join(differ)}); "
        "give another --out, or the same settings to resume it",
    )
    return manifest


def gazer_versions(gazer) -> dict[str, Any]:
    """The manifest's word on the gazer that made the rows."""
    return {"name": gazer.name, "source": str(getattr(gazer, "source", gazer.name)), "loss_kind": gazer.loss_kind}


def write_manifest(
    out: Path, settings: ClipSettings, run: dict[str, Any], gazer: dict[str, Any] | None, summary: DatasetSummary
) -> None:
    """manifest.json: what the rows mean, how this run made them, the versions (`gazer`: `gazer_versions`,
    kept from the manifest when a run had nothing to gaze), the counts."""
    manifest = {
        "format": FORMAT,
        "settings": settings.meaning(),
        "run": run,
        "versions": {"playground": __version__, "torch": torch.__version__, "pyarrow": pa.__version__, "gazer": gazer},
        "counts": {
            "videos": summary.videos,
            "clips": summary.clips,
            "skipped": summary.skipped,
            "gazed": summary.gazed,
            "rows": summary.rows,
            "errors": len(summary.errors),
            "shards": len(shard_paths(out)),
            "total_rows": summary.total_rows,
        },
        "columns": SCHEMA.names,
        "seconds": round(summary.seconds, 3),
        "as_gaze": as_gaze(settings),
    }
    write_json(manifest, out / MANIFEST, indent=1)


def as_gaze(settings: ClipSettings) -> dict[str, Any]:
    """How `python -m playground gaze` (and the app's Gaze tab, with the same numbers) gives a row's gaze:
    the command for a clip, and the settings of the rows it cannot match (empty: none)."""
    command = [
        "python -m playground gaze VIDEO",
        f"--frames {settings.clip_len}",
        "--fps FPS",
        "--start START",
        f"--gazer {settings.gazer}",
        f"--threshold {settings.threshold or 0:g}",
        f"--gazing-ratio {settings.gazing_ratio or 1:g}",
        f"--clip-len {settings.clip_len}",
    ]
    differs = []
    if settings.tile is None:
        command.append(f"--max-side {settings.max_side or 0}")
        if settings.max_side != READ_SIDE:
            differs.append(
                f"max_side: frames read at {settings.max_side or 'the native size'}, where the app reads "
                f"whole frames at {READ_SIDE} px"
            )
    else:
        command += [f"--tile {settings.tile}"] + ([f"--max-side {settings.max_side}"] if settings.max_side else [])
        if settings.max_side is not None:
            differs.append(
                f"max_side: tiles cut from frames read at {settings.max_side} px, where the app tiles the native size"
            )
    if settings.size is not None:
        differs.append(
            f"size: frames squashed to {settings.size} px square before gazing, which gaze and the app never do"
        )
    if settings.options:
        differs.append(f"options: {sorted(settings.options)} are not gaze flags")
    return {
        "command": " ".join(command),
        "where": "FPS: the video's frame rate, START: clip_start / FPS, so that the clip's clip_len consecutive "
        "frames are read",
        "differs": differs,
    }


def write_errors(out: Path, errors: list[dict[str, Any]]) -> None:
    """errors.jsonl, rewritten whole: one JSON object a line."""
    with atomic_write(out / ERRORS) as tmp:
        tmp.write_text("".join(json.dumps(e) + "\n" for e in errors))


def _labels_current(out: Path) -> bool:
    """Whether gazing_labels.json was written after the newest shard (a run that gazed nothing keeps it)."""
    labels, shards = out / LABELS, shard_paths(out)
    return labels.exists() and all(labels.stat().st_mtime_ns >= p.stat().st_mtime_ns for p in shards[-1:])


def write_labels_file(out: Path) -> Path:
    """gazing_labels.json from every row of the folder (the official format, keyed by `clip_key`)."""
    table = read_rows(out, _LABEL_COLUMNS)
    labels = {clip_key(row["video_path"], row["clip_start"]): label_of_row(row) for row in table.to_pylist()}
    return write_json(labels, out / LABELS)
