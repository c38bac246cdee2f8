"""Evaluating a gazer against the training-free ones: equal budget, and calibration at a threshold.

`evaluate_gazer(gazer, clips)` measures, on each clip:

- at one gazing ratio with the threshold off (every gazer spends the same budget): the
  reconstructor's mean loss, mean PSNR and gazes per frame of the gazer and of `random`,
  `framediff` and `greedy`, and the fraction of the random-to-greedy loss gap the gazer closes
  (`(random - gazer) / (random - greedy)`: 0 = no better than random, 1 = as good as greedy);
- at the threshold (the gazing ratio capped at the app's default): the gazer's predicted loss per
  frame against the measured one, and its gazes per frame.

`write_evaluation` saves the table (`evaluation.json`, `evaluation.csv`) and a plot
(`evaluation.html`). Shapes: C clips, T frames.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import knobs
from ..clips import CLIP_LEN, SIZE, VideoClip, read_clip_frames
from ..gazers import load_gazer
from ..jsonio import write_json
from ..knobs import EVAL_RATIO, EVAL_THRESHOLD
from ..report import mean_psnr

BASELINES = ("random", "framediff", "greedy")


@dataclass
class ClipScore:
    """One clip's numbers."""

    key: str
    loss: dict[str, float]  # gazer name -> mean reconstruction loss at the ratio
    psnr: dict[str, float]  # gazer name -> mean PSNR (dB) at the ratio
    tokens: dict[str, float]  # gazer name -> gazes per frame at the ratio
    gap_closed: float  # (random - gazer) / (random - greedy)
    predicted: list[float] = field(default_factory=list)  # (T,) predicted loss per frame at the threshold
    measured: list[float] = field(default_factory=list)  # (T,) measured loss per frame at the threshold
    threshold_tokens: float = 0.0  # gazes per frame at the threshold


def evaluate_gazer(
    gazer,
    clips: Sequence[VideoClip],
    reconstructor,
    ratio: float = EVAL_RATIO,
    threshold: float | None = EVAL_THRESHOLD,
    name: str = "gazer",
    size: int = SIZE,
    clip_len: int = CLIP_LEN,
    progress: Callable[[int, int], None] | None = None,
) -> list[ClipScore]:
    """Score `gazer` on every clip (see the module docstring); `reconstructor` measures the losses."""
    baselines = {b: load_gazer(b, device=gazer.device) for b in BASELINES}
    scores = []
    for i, clip in enumerate(clips):
        frames = read_clip_frames(clip, clip_len=clip_len, size=size).frames
        loss, psnr, tokens = {}, {}, {}
        for label, g in [(name, gazer), *baselines.items()]:
            gaze = g.gaze(frames, gazing_ratio=ratio)
            rec = reconstructor.reconstruct(frames, gaze)
            loss[label], psnr[label] = float(rec.loss.mean()), mean_psnr(rec.psnr)
            tokens[label] = gaze.num_gazed / gaze.num_frames
        score = ClipScore(clip.key, loss, psnr, tokens, gap_closed(loss, name))
        if threshold is not None and gazer.loss_kind == "predicted":
            gaze = gazer.gaze(frames, gazing_ratio=knobs.GAZING_RATIO, task_loss_requirement=threshold)
            rec = reconstructor.reconstruct(frames, gaze)
            score.predicted = [round(float(v), 6) for v in gaze.frame_loss[0]]
            score.measured = [round(float(v), 6) for v in rec.loss[0]]
            score.threshold_tokens = gaze.num_gazed / gaze.num_frames
        scores.append(score)
        if progress is not None:
            progress(i + 1, len(clips))
    return scores


def gap_closed(loss: dict[str, float], name: str = "gazer") -> float:
    """The fraction of the random-to-greedy loss gap that gazer `name` closes at an equal budget (nan: no gap)."""
    gap = loss["random"] - loss["greedy"]
    return (loss["random"] - loss[name]) / gap if gap > 0 else math.nan


def summary(scores: Sequence[ClipScore]) -> dict[str, Any]:
    """The headline numbers over all clips."""
    out = {
        "clips": len(scores),
        "min_gap_closed": float(min(s.gap_closed for s in scores)),
        "mean_gap_closed": float(np.mean([s.gap_closed for s in scores])),
    }
    for label in scores[0].loss:
        out[f"loss_{label}"] = float(np.mean([s.loss[label] for s in scores]))
    measured = [v for s in scores for v in s.measured]
    if measured:
        out["threshold_measured_loss"] = float(np.mean(measured))
        out["threshold_predicted_loss"] = float(np.mean([v for s in scores for v in s.predicted]))
        out["threshold_tokens"] = float(np.mean([s.threshold_tokens for s in scores]))
    return out


def table(scores: Sequence[ClipScore], name: str = "gazer") -> str:
    """A markdown table: one row per clip, then the means."""
    labels = list(scores[0].loss)
    head = ["clip"] + [f"{g} loss" for g in labels] + ["gap closed", f"{name} PSNR", "gazes/frame"]
    calibrated = any(s.measured for s in scores)
    if calibrated:
        head += ["@thr predicted", "@thr measured", "@thr gazes/frame"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in scores:
        row = (
            [s.key]
            + [f"{s.loss[g]:.4f}" for g in labels]
            + [f"{s.gap_closed:.2f}", f"{s.psnr[name]:.2f}", f"{s.tokens[name]:.1f}"]
        )
        if calibrated:
            row += [f"{np.mean(s.predicted):.4f}", f"{np.mean(s.measured):.4f}", f"{s.threshold_tokens:.1f}"]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_evaluation(scores: Sequence[ClipScore], out: Path, settings: dict[str, Any], name: str = "gazer") -> Path:
    """evaluation.json (settings, summary, clips), evaluation.csv and evaluation.html into `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(
        {"settings": settings, "summary": summary(scores), "clips": [s.__dict__ for s in scores]},
        out / "evaluation.json",
        indent=1,
    )
    with open(out / "evaluation.csv", "w", newline="") as f:
        writer = csv.writer(f)
        labels = list(scores[0].loss)
        writer.writerow(["clip", *[f"loss_{g}" for g in labels], "gap_closed", "threshold_measured_loss"])
        for s in scores:
            writer.writerow(
                [
                    s.key,
                    *[round(s.loss[g], 6) for g in labels],
                    round(s.gap_closed, 4),
                    round(float(np.mean(s.measured)), 6) if s.measured else "",
                ]
            )
    fig_evaluation(scores, name, settings.get("ratio"), settings.get("threshold")).write_html(
        out / "evaluation.html", include_plotlyjs=True
    )
    return out


def fig_evaluation(
    scores: Sequence[ClipScore],
    name: str = "gazer",
    ratio: float | None = EVAL_RATIO,
    threshold: float | None = EVAL_THRESHOLD,
):
    """Plotly figure: each gazer's loss per clip at the ratio, and predicted vs measured loss per frame."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    calibrated = any(s.measured for s in scores)
    fig = make_subplots(
        rows=1,
        cols=2 if calibrated else 1,
        subplot_titles=(
            f"loss at gazing ratio {ratio} (lower is better)",
            f"predicted vs measured loss per frame at threshold {threshold}",
        )[: 2 if calibrated else 1],
    )
    keys = [s.key for s in scores]
    for label in scores[0].loss:
        fig.add_trace(go.Bar(name=label, x=keys, y=[s.loss[label] for s in scores]), row=1, col=1)
    if calibrated:
        pred = [v for s in scores for v in s.predicted]
        meas = [v for s in scores for v in s.measured]
        text = [f"{s.key} frame {t}" for s in scores for t in range(len(s.measured))]
        fig.add_trace(go.Scatter(x=pred, y=meas, mode="markers", name=f"{name} frames", text=text), row=1, col=2)
        top = max(pred + meas + [1e-3])
        fig.add_trace(
            go.Scatter(x=[0, top], y=[0, top], mode="lines", name="predicted = measured", line={"dash": "dot"}),
            row=1,
            col=2,
        )
        fig.update_xaxes(title_text="predicted loss", row=1, col=2)
        fig.update_yaxes(title_text="measured loss", row=1, col=2)
    fig.update_layout(barmode="group", template="plotly_white", height=480, title=f"{name} against the baselines")
    return fig
