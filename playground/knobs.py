"""The user's knobs: their defaults and their checks, in one place for the API, the CLI and the app.

Every entry point validates a knob with the function here, so a value one of them accepts is
accepted by all, and each refusal reads the same (one line, naming the knob and its range). The
defaults are the app's, and the CLI's `--help` shows them (see docs/glossary.md for the names).
"""

from __future__ import annotations

import math
import numbers
import operator
import re
from typing import Any

from .errors import PlaygroundError, check, finite_number

THRESHOLD = 0.2  # default error threshold (task_loss_requirement) of the app and the CLI
GAZING_RATIO = 0.75  # default cap on slots per frame, as a fraction of the slots
# The clip length AutoGaze was trained on, defined once: frames per clip (`playground.clips`), per chunk of
# whole-video gazing, and the period at which AutoGaze restarts its caches.
CLIP_LEN = 16
NUM_FRAMES = CLIP_LEN  # default frames sampled from a video: one clip
FPS = 0.0  # default sampling rate: 0 spreads NUM_FRAMES uniformly over the video (from the start time)
GAZER = "greedy"  # default gazer of the app (Gaze and Ask tabs) and of the CLI's `gaze` and `ask`
RECONSTRUCTOR = "paint"  # default reconstructor of the app and of `gaze`
# How a learned gazer ends a frame at the threshold: its loss head's prediction (the reference's rule, the
# default everywhere) or paint's loss measured after each gaze (`gazers/autogaze/measured.py`).
STOPS = ("predicted", "measured")
STOP = "predicted"
# |threshold| at most this: far above any per-frame loss (L1 in the normalised space stays below ~5).
# Negative values are allowed because a predicted loss can be negative (AutoGaze heads with random
# weights predict such losses, and the reference's vectors use such thresholds); for measured losses
# a negative threshold acts like "off".
MAX_THRESHOLD = 10.0
MAX_FPS = 1000.0  # sampling rates above this are no video's
MAX_CLIP_LEN = 4096  # cache-restart period in frames; 0 = never restart
# Reading and writing defaults that the CLI's `--help` shows, kept here (no torch) so that `--help` imports
# none of the modules that use them (`video`, `whole_video`, `video_run`, which import them from here):
MAX_SIDE = 8192  # refuse frames wider or taller than this (8K is 7680 px): decoding would not fit in memory
# The frame size the gazers are given; they resize to their 224 px input themselves. Long side in
# pixels, aspect kept, never upscaled: the default `max_side` of `read_video`, `read_clip` and
# `as_clips` for files, of the CLI (--max-side) and of the app, so all three read the same frames.
READ_SIDE = 480
MAX_FRAME_PIXELS = 8192 * 4320  # source pixels per frame (DCI 8K); bigger frames cost too much to decode at all
BATCH_SIZE = 8  # clips (chunk x tile) gazed together by default: the API's, the CLI's, the app's and gaze-dataset's
PREVIEW_WIDTH = 1280  # the written videos' default width for large frames
# Clips for training, labels and datasets (`clips`, `training.make_labels`, `dataset.shards` import them from here):
SIZE = 224  # training and labels squash a clip's frames to this side (AutoGaze's input)
CLIP_CHOICES = ("first", "all")  # which clips of a video: its first, or every whole clip back to back
LABEL_GAZING_RATIO = 0.1  # the reference's example ratio (26 gazes a frame at most)
LABEL_THRESHOLD = 0.1  # a frame's labels stop once its loss is this low (None: spend the budget)
SHARD_CLIPS = 256  # clips per shard: an interrupted run loses at most this many clips' work
EVAL_RATIO = 0.1  # `evaluate-gazer`'s equal budget (`training.evaluate_gazer` imports it from here)
EVAL_THRESHOLD = THRESHOLD  # and its calibration threshold
# The defaults and choices that `ask --help`, `eval --help` and `train --help` show, kept here for the same
# reason (no torch: `playground.mllm`, `playground.evaluation` and `playground.training` import them from here):
DEFAULT_MLLM = "smolvlm2-256m"  # the MLLM of `ask`, `eval` and `load_mllm` when none is named
MAX_ANSWER_TOKENS = 1024  # generated tokens one request may ask for (`mllm.answer`)
ATTENTION_MODES = ("block_causal", "frame_independent", "bidirectional")  # gazed encoder attention across frames
FORMATS = ("hlvid", "video-mme", "mvbench")  # the question sets' row formats (`evaluation.questions`)
DEFAULT_RATIO = 0.1  # `eval`'s gazed condition's cap when neither a ratio nor a threshold is given
MAX_NEW_TOKENS = 16  # `eval`'s answer length: lmms-eval's Video-MME generation length
TOP_K = 50  # GRPO's rollouts sample among the k best ids: the generation-config default the reference inherits
SELF_PASS_REQUIREMENT = (0.5, 1.0)  # GRPO's self pass's task-loss requirement, drawn uniformly
TEMPERATURE = (3.0, 0.3)  # GRPO's rollout temperature decays from the first to the second value
_DIGITS = re.compile(r"[+-]?[0-9]+")  # a whole number as `whole_number` reads it from text


def threshold(value: Any, name: str = "threshold") -> float | None:
    """The error threshold: None (off) or a number in [-MAX_THRESHOLD, MAX_THRESHOLD]; 0 is also "off" in the app and CLI."""
    if value is None:
        return None
    number = finite_number(value, name)
    check(
        abs(number) <= MAX_THRESHOLD, f"{name} must be between -{MAX_THRESHOLD:g} and {MAX_THRESHOLD:g}, got {number:g}"
    )
    return number


def threshold_or_off(value: Any, name: str = "threshold") -> float | None:
    """The app's and the CLI's reading: 0 (or None) turns the threshold off; the gazers then get None.

    A negative threshold is passed on (it matters only to gazers whose loss can be negative)."""
    number = threshold(value, name)
    return None if not number else number


def gazing_ratio(value: Any, name: str = "gazing_ratio") -> float:
    """A cap on slots per frame as a fraction of the slots: a number in (0, 1]."""
    number = finite_number(value, name)
    check(0 < number <= 1, f"{name} must be in (0, 1], got {number:g}")
    return number


def fps(value: Any, name: str = "fps", allow_zero: bool = False) -> float:
    """A sampling rate in (0, MAX_FPS]; with `allow_zero`, 0 means "spread the frames uniformly"."""
    number = finite_number(value, name)
    low_ok = number >= 0 if allow_zero else number > 0
    check(
        low_ok and number <= MAX_FPS,
        f"{name} must be {'0 (uniform) or ' if allow_zero else ''}in (0, {MAX_FPS:g}], got {number:g}",
    )
    return number


def whole_number(value: Any, name: str, low: int = 1, high: int | None = None) -> int:
    """An int in [low, high], read exactly (never through a float).

    Accepted: ints (and numpy / 0-d integer tensors), floats with no fraction (what the app's
    number boxes send: 16.0 is 16), and strings of digits with an optional sign ("16", " -3 ").
    Refused: bools, fractions (1.5, "1.5"), and strings in any other notation ("1e3", "16.0", "0x10").
    """
    wrong = f"{name} must be a whole number, got {value!r}"
    if isinstance(value, bool):
        raise PlaygroundError(wrong)
    if isinstance(value, str):
        check(_DIGITS.fullmatch(value.strip()) is not None, wrong)
        number = int(value.strip())
    else:
        try:
            number = operator.index(value)
        except TypeError:
            check(isinstance(value, numbers.Real) and math.isfinite(value) and float(value).is_integer(), wrong)
            number = int(value)
    check(
        number >= low and (high is None or number <= high),
        f"{name} must be between {low} and {high}, got {number}"
        if high is not None
        else f"{name} must be {low} or more, got {number}",
    )
    return number


def clip_len(value: Any, name: str = "clip_len") -> int | None:
    """AutoGaze's cache-restart period: None or 0 (never restart) or 1..MAX_CLIP_LEN frames."""
    if value is None:
        return None
    return whole_number(value, name, 0, MAX_CLIP_LEN) or None


def stop(value: Any, name: str = "stop", reconstructor: str | None = None) -> str:
    """How a learned gazer stops: one of STOPS. "measured" measures paint's loss after each gaze, so with a
    `reconstructor` given it must be paint (its threshold is exact for paint only)."""
    text = str(value).strip().lower() if value is not None else STOP
    check(text in STOPS, f"{name} must be one of {', '.join(STOPS)}, got {value!r}")
    check(
        text != "measured" or reconstructor is None or str(reconstructor).strip().lower() == "paint",
        f"{name} measured measures paint's loss after each gaze, so it needs the paint reconstructor, "
        f"not {reconstructor!r}",
    )
    return text
