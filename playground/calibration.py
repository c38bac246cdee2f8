"""What a learned gazer's threshold means: calibrating the task-loss head against a reconstructor.

A learned gazer (AutoGaze) stops a frame once its task-loss head *predicts* a loss at or below the
threshold; the head was trained for one reconstructor's loss (nvidia/AutoGaze: VideoMAE's
L1 + DINOv2 + SigLIP2; the shipped gazer: paint) and its predictions need not match what a
reconstructor then *measures* on the user's footage. A calibration measures that map for one
(gazer, reconstructor) pair: it sweeps requested thresholds t_k on clips, gazes with the head's
stop at each, rebuilds with the reconstructor, and keeps the mean measured per-frame loss m_k.
A monotone (isotonic) fit of m over t, inverted by linear interpolation, gives the threshold to hand
the head for a wanted measured loss.

- `calibrate(gazer, reconstructor, clips)` -> `Calibration` (the sweep and the fit).
- `Calibration.threshold_for(wanted)`: the head's threshold for a wanted measured loss.
- `write_calibration` / `read_calibration`: `calibration.json` (gazer id, weights SHA-256,
  reconstructor, the table, the clips, date, code version), read through `jsonio`, written atomically.
- `find_calibration(calibration, folder, weights)`: what `load_gazer(..., calibration=...)` uses
  ("auto": `calibration.json` in the checkpoint folder when it is for these weights; a path; None).
- `threshold_note(settings, reconstructor)`: one line on what a result's threshold meant for a
  reconstructor (the CLI summary, the run card and the app show it).
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .errors import PlaygroundError, check

CALIBRATION_FILE = "calibration.json"  # beside a checkpoint's model.safetensors: picked up by "auto"
FORMAT = "playground-calibration"
VERSION = 1
UNCALIBRATED = "none (predicted loss of the head)"
QUANTILES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)  # of the head's own losses: the sweep
MAX_ROWS = 256
REFINE_STEP = 0.05  # an automatic sweep halves steps of measured loss wider than 5 % (log scale: small losses matter)


@dataclass
class Calibration:
    """How a gazer's requested threshold maps to a reconstructor's measured loss (one pair).

    `requested[k]` was handed to the task-loss head; `measured[k]` is the mean per-frame loss the
    reconstructor then measured over the clips; `fitted` is `measured` made non-decreasing in the
    threshold (pool-adjacent-violators), the curve `threshold_for` inverts.
    """

    gazer: str  # the gazer's id (name or checkpoint) when it was calibrated
    weights_sha256: str  # SHA-256 of its model.safetensors: a calibration fits these weights only
    reconstructor: str  # whose measured loss the threshold then means (e.g. "paint")
    requested: list[float]  # (K,) ascending thresholds handed to the head
    measured: list[float]  # (K,) mean measured per-frame loss at each
    gazes_per_frame: list[float]  # (K,) mean real gazes per frame at each
    clips: list[str]  # the clips measured (labels keys: the path's last parts, '#first frame')
    frames: int  # frames measured at each threshold
    created: str = ""  # ISO date
    code_version: str = ""
    gazing_ratio: float | None = None  # the cap during the sweep (None: the threshold alone)
    fitted: list[float] = field(default_factory=list)  # (K,) monotone fit of `measured`
    path: str = ""  # where it was read from (not written)

    def __post_init__(self) -> None:
        if not self.fitted:
            self.fitted = isotonic(self.measured)

    def threshold_for(self, wanted: float) -> float:
        """The threshold to hand the head so that the measured loss is about `wanted`.

        Between the swept points the fitted curve is read linearly; where it is flat the largest
        threshold (fewest gazes) with that loss is taken; below the lowest fitted loss the lowest
        threshold swept, above the highest the highest.
        """
        loss, thr = [], []
        for m, t in zip(self.fitted, self.requested):  # flat runs: keep the largest threshold
            if loss and m <= loss[-1]:
                thr[-1] = t
            else:
                loss.append(m)
                thr.append(t)
        return float(np.interp(float(wanted), loss, thr))

    def describe(self) -> str:
        """One line: for what, from what."""
        where = Path(self.path).name if self.path else "in memory"
        return (
            f"calibrated for {self.reconstructor} ({where}: {len(self.clips)} clips, {self.frames} frames, "
            f"{self.created[:10] or 'undated'})"
        )

    def table(self) -> str:
        """The sweep as a small text table."""
        rows = ["requested  measured  fitted  gazes/frame"]
        rows += [
            f"{t:9.4f}  {m:8.4f}  {f:6.4f}  {n:11.1f}"
            for t, m, f, n in zip(self.requested, self.measured, self.fitted, self.gazes_per_frame)
        ]
        return "\n".join(rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "gazer": self.gazer,
            "weights_sha256": self.weights_sha256,
            "reconstructor": self.reconstructor,
            "maps": f"a wanted {self.reconstructor} loss (mean per frame) -> the threshold handed to the "
            "gazer's task-loss head (linear between rows of the monotone fit)",
            "gazing_ratio": self.gazing_ratio,
            "table": [
                {"requested": t, "measured": m, "fitted": f, "gazes_per_frame": n}
                for t, m, f, n in zip(self.requested, self.measured, self.fitted, self.gazes_per_frame)
            ],
            "clips": self.clips,
            "frames": self.frames,
            "created": self.created,
            "code_version": self.code_version,
        }

    @classmethod
    def from_json(cls, data: Any, what: str = "calibration") -> "Calibration":
        """Checked: one line naming what is wrong."""
        check(
            isinstance(data, dict) and data.get("format") == FORMAT,
            f'{what} is not a playground calibration (no "format": "{FORMAT}")',
        )
        check(data.get("version") == VERSION, f"{what} has version {data.get('version')!r}; this code reads {VERSION}")
        for key in ("gazer", "weights_sha256", "reconstructor"):
            check(isinstance(data.get(key), str) and data[key], f"{what}: {key!r} must be a non-empty string")
        table = data.get("table")
        check(
            isinstance(table, list) and 2 <= len(table) <= MAX_ROWS,
            f"{what}: 'table' must be a list of 2 to {MAX_ROWS} rows",
        )
        cols: dict[str, list[float]] = {k: [] for k in ("requested", "measured", "fitted", "gazes_per_frame")}
        for i, row in enumerate(table):
            check(isinstance(row, dict), f"{what}: table row {i} is not an object")
            for k in cols:
                v = row.get(k)
                check(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v),
                    f"{what}: table row {i} has no finite number {k!r}",
                )
                cols[k].append(float(v))
        check(
            all(a < b for a, b in zip(cols["requested"], cols["requested"][1:])),
            f"{what}: the requested thresholds must be strictly ascending",
        )
        check(
            all(a <= b for a, b in zip(cols["fitted"], cols["fitted"][1:])),
            f"{what}: the fitted losses must not decrease",
        )
        clips = data.get("clips", [])
        check(
            isinstance(clips, list) and all(isinstance(c, str) for c in clips),
            f"{what}: 'clips' must be a list of names",
        )
        ratio = data.get("gazing_ratio")
        check(
            ratio is None or (isinstance(ratio, (int, float)) and not isinstance(ratio, bool)),
            f"{what}: 'gazing_ratio' must be a number or null",
        )
        frames = data.get("frames", 0)
        check(
            isinstance(frames, int) and not isinstance(frames, bool) and frames >= 0,
            f"{what}: 'frames' must be a whole number",
        )
        return cls(
            gazer=data["gazer"],
            weights_sha256=data["weights_sha256"],
            reconstructor=data["reconstructor"],
            requested=cols["requested"],
            measured=cols["measured"],
            fitted=cols["fitted"],
            gazes_per_frame=cols["gazes_per_frame"],
            clips=list(clips),
            frames=frames,
            created=str(data.get("created", "")),
            code_version=str(data.get("code_version", "")),
            gazing_ratio=ratio,
        )


def isotonic(values: Sequence[float]) -> list[float]:
    """The non-decreasing sequence closest to `values` in least squares (pool-adjacent-violators)."""
    blocks: list[list[float]] = []  # [mean, count]
    for v in values:
        blocks.append([float(v), 1.0])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, n2), (m1, n1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * n1 + m2 * n2) / (n1 + n2), n1 + n2])
    return [m for m, n in blocks for _ in range(int(n))]


def weights_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a weights file (`run_card.sha256_of`, the digest the run cards record)."""
    from .run_card import sha256_of  # lazy: run_card imports torch, which reading a calibration does not need

    return sha256_of([Path(path)])


def read_calibration(path: str | Path) -> Calibration:
    """A `calibration.json` (through `jsonio.read_json`: one-line errors)."""
    from .jsonio import read_json

    cal = Calibration.from_json(read_json(path, "calibration file"), f"calibration file {path}")
    cal.path = str(path)
    return cal


def write_calibration(cal: Calibration, path: str | Path) -> Path:
    """Write `cal` as JSON, atomically."""
    from .jsonio import write_json

    return write_json(cal.to_json(), path, indent=1)


def find_calibration(calibration: Any, folder: Path | None, weights: Path) -> tuple[Calibration | None, str]:
    """The calibration `load_gazer(..., calibration=...)` asked for, and the note results carry without one.

    Args:
        calibration: "auto" (`calibration.json` in the checkpoint folder, used when it is for these
            weights), a path to a calibration file, a `Calibration`, or None (the head's own threshold).
        folder: the checkpoint folder (None when a weights file was named alone: "auto" finds nothing).
        weights: the weights file, whose SHA-256 a calibration must name.
    """
    from .checkpoints import inside

    if calibration is None:
        return None, UNCALIBRATED
    if isinstance(calibration, str) and calibration == "auto":
        if folder is None or not (folder / CALIBRATION_FILE).is_file():
            return None, UNCALIBRATED
        cal = read_calibration(inside(folder, folder / CALIBRATION_FILE))
        if cal.weights_sha256 != weights_sha256(weights):
            return None, f"{UNCALIBRATED}; {CALIBRATION_FILE} beside it is for other weights"
        return cal, cal.describe()
    if isinstance(calibration, (str, Path)):
        check(str(calibration).strip() != "", "calibration must be 'auto', None or a calibration file")
        cal = read_calibration(Path(calibration).expanduser())
    elif isinstance(calibration, Calibration):
        cal = calibration
    else:
        raise PlaygroundError(
            f"calibration must be 'auto', None, a path or a Calibration, got {type(calibration).__name__}"
        )
    check(
        cal.weights_sha256 == weights_sha256(weights),
        f"calibration {cal.path or cal.gazer} is for other weights than {weights.name} (SHA-256 differs): "
        "calibrate this checkpoint with `python -m playground calibrate`",
    )
    return cal, cal.describe()


def threshold_note(settings: dict[str, Any], reconstructor: str | None = None) -> str:
    """What a result's threshold meant: one line for a summary or a run card.

    Args:
        settings: `GazeResult.settings` (its `threshold_unit`, `calibration`, `calibrated_for`).
        reconstructor: the reconstructor the video was rebuilt with (None: say what the gazer says).
    """
    unit = settings.get("threshold_unit")
    if unit is None:
        return "ignored by this gazer"
    if unit != "loss":
        return f"a per-patch {unit}, not a loss"
    note = settings.get("calibration") or UNCALIBRATED
    pair = settings.get("calibrated_for")
    if reconstructor is None or pair is None or str(pair).lower() == str(reconstructor).lower():
        return note
    return f"uncalibrated for {reconstructor} ({note})"


def code_version() -> str:
    """The package version and, in a git checkout, the commit."""
    import subprocess
    from importlib.metadata import PackageNotFoundError, version

    try:
        text = version("autogaze-playground")
    except PackageNotFoundError:
        text = "unknown"
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{text}+{sha}" if sha else text


# ---- the sweep -------------------------------------------------------------------------------


def sweep_thresholds(gazer, clips: Sequence[np.ndarray], probe_clips: int = 2) -> list[float]:
    """Thresholds spread over the head's own predicted losses: quantiles `QUANTILES` of every per-gaze
    prediction while gazing (up to) `probe_clips` clips with the whole budget and no threshold."""
    import torch

    losses = []
    with uncalibrated(gazer):
        for clip in clips[:probe_clips]:
            loss = gazer.gaze(clip, gazing_ratio=1.0).loss
            losses.append(loss[torch.isfinite(loss)].numpy())
    values = np.concatenate(losses)
    check(values.size > 0, "the gazer predicted no finite loss on the clips: nothing to calibrate against")
    return sorted({round(float(q), 4) for q in np.quantile(values, QUANTILES)})


class uncalibrated:
    """Within the block the gazer takes thresholds as its head does (no calibration, the predicted stop)."""

    def __init__(self, gazer):
        self.gazer = gazer

    def __enter__(self):
        self.saved = (self.gazer.calibration, self.gazer.stop)
        self.gazer.calibration, self.gazer.stop = None, "predicted"
        return self.gazer

    def __exit__(self, *exc):
        self.gazer.calibration, self.gazer.stop = self.saved


def calibrate(
    gazer,
    reconstructor,
    clips: Sequence[np.ndarray],
    names: Sequence[str] | None = None,
    thresholds: Sequence[float] | None = None,
    batch_size: int = 4,
    points: int = 16,
    progress: Callable[[int, int], None] | None = None,
) -> Calibration:
    """Measure how `gazer`'s requested threshold maps to `reconstructor`'s loss on `clips`.

    Args:
        gazer: a learned gazer with a predicted stop (an `AutoGazeGazer`).
        reconstructor: a `Reconstructor` (e.g. `load_reconstructor("paint")`).
        clips: uint8 (T, H, W, 3) clips of one length (e.g. 16 frames).
        names: a name per clip (recorded in the file).
        thresholds: the thresholds to sweep, exactly (None: spread over the head's own losses,
            `sweep_thresholds`, then the widest step of measured loss, on a log scale, halved until
            `points` thresholds are swept or no step is wider than `REFINE_STEP`).
        batch_size: clips gazed and rebuilt together.
        points: the most thresholds an automatic sweep measures.
        progress: called as progress(done, total) after each batch of each threshold (total: at most).

    Returns:
        The `Calibration` (gazer id, weights SHA-256, the table); `write_calibration` saves it.
    """
    from .knobs import threshold as check_threshold

    check(
        getattr(gazer, "loss_kind", None) == "predicted" and hasattr(gazer, "calibration"),
        f"{getattr(gazer, 'name', gazer)} does not stop on a predicted loss: only a learned gazer "
        "(AutoGaze) is calibrated",
    )
    check(
        getattr(gazer, "weights_file", None) is not None,
        f"{gazer.name} was not loaded from a weights file: load it with load_gazer to calibrate it",
    )
    check(len(clips) > 0, "no clip to calibrate on")
    lengths = {c.shape for c in clips}
    check(len(lengths) == 1, f"the clips must share one shape, got {sorted(lengths)}")
    names = list(names) if names is not None else [f"clip {i}" for i in range(len(clips))]
    check(len(names) == len(clips), f"{len(names)} names for {len(clips)} clips")
    auto = thresholds is None
    if auto:
        thresholds = sweep_thresholds(gazer, clips)
    thresholds = sorted({check_threshold(t, "threshold") for t in thresholds})
    check(len(thresholds) >= 2, "give at least two different thresholds to sweep")
    batches = [np.stack(clips[i : i + batch_size]) for i in range(0, len(clips), batch_size)]
    swept: dict[float, tuple[float, float]] = {}  # threshold -> (mean measured loss, mean gazes per frame)
    total = max(points, len(thresholds)) * len(batches) if auto else len(thresholds) * len(batches)

    def measure(t: float) -> None:
        losses, kept = [], []
        for batch in batches:
            result = gazer.gaze(batch, task_loss_requirement=t)
            losses.append(reconstructor.reconstruct(batch, result).loss.flatten().numpy())
            kept.append(result.counts().flatten().numpy())
            if progress is not None:
                progress(min(total, len(swept) * len(batches) + len(losses)), total)
        swept[t] = (float(np.mean(np.concatenate(losses))), float(np.mean(np.concatenate(kept))))

    with uncalibrated(gazer):
        for t in thresholds:
            measure(t)
        while auto and len(swept) < points:  # halve the widest step of measured loss, on a log scale
            ts = sorted(swept)
            ms = np.array([swept[t][0] for t in ts])
            floor = 1e-3 * max(float(ms.max()), 1e-6)  # a loss of 0 (every patch) stays finite
            steps = np.abs(np.diff(np.log(np.maximum(ms, 0) + floor)))
            i = int(steps.argmax())
            mid = round((ts[i] + ts[i + 1]) / 2, 4)
            if steps[i] <= REFINE_STEP or mid in swept:
                break
            measure(mid)
    thresholds = sorted(swept)
    return Calibration(
        gazer=gazer.source or gazer.name,
        weights_sha256=weights_sha256(gazer.weights_file),
        reconstructor=reconstructor.name,
        requested=[float(t) for t in thresholds],
        measured=[swept[t][0] for t in thresholds],
        gazes_per_frame=[swept[t][1] for t in thresholds],
        clips=names,
        frames=int(sum(c.shape[0] for c in clips)),
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        code_version=code_version(),
    )


__all__ = [
    "Calibration",
    "calibrate",
    "read_calibration",
    "write_calibration",
    "find_calibration",
    "threshold_note",
    "isotonic",
    "weights_sha256",
    "sweep_thresholds",
    "CALIBRATION_FILE",
    "UNCALIBRATED",
]
