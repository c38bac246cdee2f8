"""The dataset on disk: Parquet shards of rows, what is already done, and whole-then-rename writes.

A dataset folder holds `shards/shard-NNNNN.parquet` (rows with the columns of `SCHEMA`, one per
clip and tile; `pyarrow.parquet.read_table(OUT / "shards")` reads them all), `manifest.json` and
`errors.jsonl` (written by `runner`). A shard is written whole to a hidden temporary name and then
renamed (`jsonio.atomic_write`), so a reader, or a resumed run, never sees part of one; the
(video_path, clip_start) keys in the shards are the clips a resumed run skips.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import PlaygroundError
from ..jsonio import atomic_write
from ..knobs import SHARD_CLIPS

SHARDS = "shards"  # the folder of shards inside the dataset folder
_SHARD_NAME = re.compile(r"shard-(\d{5,})\.parquet")

_INT, _FLOAT = pa.int64(), pa.float32()


def _list(item: pa.DataType, size: int = -1) -> pa.DataType:
    """A list column as Parquet gives it back (its items named "element"), so that what is read equals SCHEMA."""
    return pa.list_(pa.field("element", item), size)


# The columns of a row, in order, with what each holds (docs/datasets.md has the table; a test checks
# that its names, types and nullability are these).
SCHEMA = pa.schema(
    [
        pa.field("video_path", pa.string(), False, {"doc": "the video, as found from the inputs"}),
        pa.field("clip_start", _INT, False, {"doc": "index of the clip's first frame in the video"}),
        pa.field("clip_len", _INT, False, {"doc": "frames in the clip (T)"}),
        pa.field("tile", _INT, False, {"doc": "tile index, row-major (0 for the whole frame)"}),
        pa.field("num_tiles", _INT, False, {"doc": "tiles of each frame (N)"}),
        pa.field(
            "tile_box",
            _list(_INT, 4),
            False,
            {"doc": "y0, x0, y1, x1 of the tile in the video's own frame pixels, end-exclusive, clipped"},
        ),
        pa.field("source_size", _list(_INT, 2), False, {"doc": "H, W of the video's own frames"}),
        pa.field("read_size", _list(_INT, 2), False, {"doc": "h, w of the frames the tiles were cut from"}),
        pa.field(
            "gazing_pos",
            _list(_INT),
            False,
            {"doc": "official gazing_pos of the tile's clip: clip-global slot ids (S*t + local) in gaze order"},
        ),
        pa.field("if_padded_gazing", _list(pa.bool_()), False, {"doc": "official if_padded_gazing, per entry"}),
        pa.field("num_gazing_each_frame", _list(_INT), False, {"doc": "official num_gazing_each_frame (T,)"}),
        pa.field("tokens_kept", _INT, False, {"doc": "gazed slots (not padding) of the tile's clip"}),
        pa.field("tokens_total", _INT, False, {"doc": "all slots of the tile's clip: T x 265"}),
        pa.field(
            "gazer_loss",
            _list(_FLOAT),
            True,
            {"doc": "the gazer's loss after each entry (NaN on padding); null when the gazer has none"},
        ),
        pa.field(
            "loss",
            _list(_FLOAT),
            True,
            {"doc": "per-frame loss of the rebuild by --reconstructor (T,); null without one"},
        ),
        pa.field(
            "seconds", pa.float64(), False, {"doc": "wall time of the clip's read, gaze and rebuild, over its tiles"}
        ),
    ]
)


def shard_paths(out: Path) -> list[Path]:
    """The finished shards of a dataset folder, in order."""
    folder = Path(out) / SHARDS
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if _SHARD_NAME.fullmatch(p.name))


def read_shard(path: Path, columns: list[str] | None = None) -> pa.Table:
    """One shard (or some of its columns); a one-line error when it is not one of ours."""
    try:  # one file: ParquetFile, not read_table, whose dataset layer imports pandas (0.6 s of a no-op resume)
        with pq.ParquetFile(path) as shard:
            return shard.read(columns=columns)
    except (OSError, pa.ArrowException) as exc:
        raise PlaygroundError(f"cannot read shard {path}: {exc}") from None


def read_rows(out: Path, columns: list[str] | None = None) -> pa.Table:
    """Every row of a dataset folder (some columns), shard after shard; an empty table when none."""
    tables = [read_shard(p, columns) for p in shard_paths(out)]
    empty = SCHEMA if columns is None else pa.schema([SCHEMA.field(c) for c in columns])
    return pa.concat_tables(tables) if tables else empty.empty_table()


def done_clips(out: Path) -> set[tuple[str, int]]:
    """(video_path, clip_start) of every clip already in the shards."""
    table = read_rows(out, ["video_path", "clip_start"])
    return set(zip(table.column("video_path").to_pylist(), table.column("clip_start").to_pylist()))


class ShardWriter:
    """Buffers rows and writes them as numbered shards, whole then renamed, every `clips_per_shard` clips."""

    def __init__(self, out: Path, clips_per_shard: int = SHARD_CLIPS):
        self.folder = Path(out) / SHARDS
        self.folder.mkdir(parents=True, exist_ok=True)
        self.clips_per_shard = clips_per_shard
        existing = [int(_SHARD_NAME.fullmatch(p.name).group(1)) for p in shard_paths(out)]
        self.next_index = max(existing, default=-1) + 1  # a resumed run numbers on after the last shard
        self.rows: list[dict[str, Any]] = []  # rows of the clips buffered
        self.clips = 0  # clips buffered
        self.written: list[Path] = []  # shards written by this writer

    def add(self, rows: Iterable[dict[str, Any]]) -> Path | None:
        """Buffer one clip's rows; write a shard when enough clips are in (its path), else None."""
        self.rows += list(rows)
        self.clips += 1
        return self.flush() if self.clips >= self.clips_per_shard else None

    def flush(self) -> Path | None:
        """Write the buffered rows as the next shard (None when nothing is buffered)."""
        if not self.rows:
            return None
        path = self.folder / f"shard-{self.next_index:05d}.parquet"
        table = pa.Table.from_pylist(self.rows, schema=SCHEMA)
        with atomic_write(path) as tmp:
            pq.write_table(table, tmp)
        self.next_index += 1
        self.rows, self.clips = [], 0
        self.written.append(path)
        return path
