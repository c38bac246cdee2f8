"""A training run on disk: checkpoints in the published layout, metrics, curves and the run card.

    RUN/
      run.json                 the settings of the run (what `--resume` continues)
      checkpoint-N/            config.json, model.safetensors, preprocessor_config.json (what
                               `load_gazer(RUN/checkpoint-N)` and the official code load), and
                               trainer_state.pt (optimiser, scheduler, step, RNG; read with
                               `torch.load(weights_only=True)`)
      metrics.jsonl            one JSON line per step
      curves.html              plotly curves of the metrics
      README.md                the run card

Every checkpoint is written into a hidden temporary folder and renamed into place, so Ctrl-C or a
crash leaves the last complete checkpoint intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from ..errors import PlaygroundError, check
from ..jsonio import read_json, read_jsonl, write_json

CONFIGS = Path(__file__).resolve().parent / "configs"
CONFIG_NAMES = ("micro", "tiny", "full")
TRAINER_STATE = "trainer_state.pt"
CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def config_template(name_or_path: str) -> dict[str, Any]:
    """A model `config.json`: `micro` (hidden 32, 1 layer: tests, notebooks), `tiny` (hidden 64, 2 layers), `full` (the released size) or a path."""
    path = CONFIGS / f"{name_or_path}.json" if name_or_path in CONFIG_NAMES else Path(name_or_path)
    check(path.is_file(), f"--config {name_or_path!r} is neither {' nor '.join(CONFIG_NAMES)} nor a config.json file")
    return read_json(path, "config")


def preprocessor_template() -> dict[str, Any]:
    return read_json(CONFIGS / "preprocessor_config.json")


def save_gazer(gazer, folder: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write an AutoGaze gazer in the published layout (atomically); `extra` goes to trainer_state.pt.

    Returns the folder.
    """
    folder = Path(folder)
    check(gazer.config_json is not None, "this gazer has no config.json to save with it")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        state = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in gazer.net.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(gazer.config_json, indent=2))
        pre = dict(preprocessor_template())
        pre.update(gazer.preprocess.config)
        (tmp / "preprocessor_config.json").write_text(json.dumps(pre, indent=2))
        if extra is not None:
            torch.save(extra, tmp / TRAINER_STATE)
        tmp.chmod(0o755)  # mkdtemp makes it private; a checkpoint is shared like any output
        for path in tmp.iterdir():
            path.chmod(0o644)
        if folder.exists():
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def checkpoints(run: Path) -> list[tuple[int, Path]]:
    """The complete checkpoints of a run folder, by step."""
    found = []
    for path in Path(run).iterdir() if Path(run).is_dir() else []:
        m = CHECKPOINT.match(path.name)
        if m and all((path / f).is_file() for f in ("config.json", "model.safetensors", TRAINER_STATE)):
            found.append((int(m.group(1)), path))
    return sorted(found)


def latest_checkpoint(run: Path) -> Path:
    found = checkpoints(run)
    check(bool(found), f"{run} has no complete checkpoint to resume from")
    return found[-1][1]


def read_trainer_state(checkpoint: Path) -> dict[str, Any]:
    try:
        return torch.load(checkpoint / TRAINER_STATE, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say which, in one line
        raise PlaygroundError(f"cannot read {checkpoint / TRAINER_STATE}: {str(exc).splitlines()[0]}") from None


def write_run_settings(run: Path, settings: dict[str, Any]) -> None:
    write_json(settings, run / "run.json", indent=1)


def read_run_settings(run: Path) -> dict[str, Any]:
    path = Path(run) / "run.json"
    check(path.is_file(), f"{run} is not a training run folder (no run.json)")
    return read_json(path, "run settings")


def append_metrics(run: Path, row: dict[str, Any]) -> None:
    with open(Path(run) / "metrics.jsonl", "a") as f:
        f.write(json.dumps(row) + "\n")


def remove_run(run: Path, created: bool) -> None:
    """Remove what a run that failed before its first checkpoint wrote (and its folder, if the run made it)."""
    for name in ("run.json", "metrics.jsonl"):  # curves and the card come with the first checkpoint
        (Path(run) / name).unlink(missing_ok=True)
    if created:
        with contextlib.suppress(OSError):  # not empty: something else is in it, keep it
            Path(run).rmdir()


def _check_metrics_row(row: Any, where: str) -> None:
    check(
        isinstance(row, dict) and isinstance(row.get("step"), int),
        f"{where} is not a metrics row (an object with an integer 'step')",
    )


def read_metrics(run: Path, up_to: int | None = None) -> list[dict[str, Any]]:
    """The run's metric rows (those of steps <= up_to when given)."""
    path = Path(run) / "metrics.jsonl"
    if not path.is_file():
        return []
    rows, torn = read_jsonl(path, _check_metrics_row)
    if torn:
        warnings.warn(f"{path}: dropped its last line, cut short by a crash mid-write", stacklevel=2)
    return [r for r in rows if up_to is None or r["step"] <= up_to]


def rewrite_metrics(run: Path, rows: list[dict[str, Any]]) -> None:
    """Keep only `rows` (on resume: the steps after the checkpoint are run again)."""
    path = Path(run) / "metrics.jsonl"
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, path)


CURVES = (
    ("loss", ("loss", "ntp_loss", "grpo_loss", "task_loss_prediction_loss")),
    ("reward", ("reward",)),
    ("gazes a frame", ("tokens",)),
    ("temperature", ("temperature",)),
    ("learning rate", ("lr",)),
    ("gradient norm", ("grad_norm",)),
)


def write_curves(run: Path, rows: list[dict[str, Any]], title: str) -> Path:
    """curves.html: one panel per metric group (only groups the run logged)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    panels = [(name, [k for k in keys if any(k in r for r in rows)]) for name, keys in CURVES]
    panels = [(name, keys) for name, keys in panels if keys]
    fig = make_subplots(
        rows=len(panels), cols=1, shared_xaxes=True, subplot_titles=[p[0] for p in panels], vertical_spacing=0.06
    )
    for i, (_, keys) in enumerate(panels, 1):
        for key in keys:
            points = [(r["step"], r[key]) for r in rows if key in r]
            fig.add_trace(
                go.Scatter(x=[p[0] for p in points], y=[p[1] for p in points], name=key, mode="lines"), row=i, col=1
            )
    fig.update_layout(title=title, height=220 * len(panels) + 80, template="plotly_white")
    fig.update_xaxes(title_text="step", row=len(panels), col=1)
    out = Path(run) / "curves.html"
    tmp = out.with_suffix(".html.tmp")
    fig.write_html(tmp, include_plotlyjs=True)  # inline: the curves open offline
    os.replace(tmp, out)
    return out


def machine() -> str:
    """One line naming the machine: CPU (threads) or GPU, and torch."""
    if torch.cuda.is_available():
        device = torch.cuda.get_device_name(0)
    else:
        device = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    return f"{device}; torch {torch.__version__}; {platform.system()}"


def write_training_card(run: Path, settings: dict[str, Any], rows: list[dict[str, Any]], clips: int) -> Path:
    """README.md of a run: what was trained on what, how, for how long, where, and the last metrics."""
    seconds = sum(r.get("seconds", 0.0) for r in rows)
    last = rows[-1] if rows else {}
    shown = {k: v for k, v in settings.items() if k not in ("progress", "extras", "command")}
    lines = [
        f"# {settings['method'].upper()} run `{Path(run).name}`",
        "",
        f"- steps: {last.get('step', 0)} of {settings['steps']}; {clips} training clips",
        f"- wall time: {seconds / 60:.1f} min of steps on {machine()}",
        "- last step: "
        + ", ".join(f"{k} {v:.4g}" for k, v in last.items() if k not in ("step", "seconds") and isinstance(v, float)),
        "",
        "## Command",
        "",
        "```",
        settings.get("command") or "(called from Python: pg.train_gazer)",
        "```",
        "",
        "## Settings",
        "",
        "| knob | value |",
        "|---|---|",
    ]
    lines += [f"| {k} | `{v}` |" for k, v in shown.items()]
    lines += [
        "",
        "Checkpoints (`checkpoint-N/`) load with `load_gazer(path)`; `metrics.jsonl` has every step, "
        "`curves.html` plots them.",
    ]
    out = Path(run) / "README.md"
    out.write_text("\n".join(lines) + "\n")
    return out
