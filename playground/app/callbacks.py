"""The functions Gradio calls: validate, run the pipeline with progress, render, and report errors.

Each callback takes the values of the page's components (every one but the video has a default,
so `gradio_client` can call `/gaze` with a file alone; None means `RunSettings`' default) and
returns what the outputs show, as a mapping from the output's name in layout's `ui` to its value
(`layout.by_component` keys it by component for Gradio; an output left out keeps what it shows). A
`PlaygroundError` becomes a `gr.Error` with its one-line message; any other failure is logged on
the server and shown as a one-line message, never as a traceback.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Callable

import gradio as gr
import pandas as pd

from .. import viz
from ..calibration import threshold_note
from ..errors import PlaygroundError, check, finite_number
from ..mllm import default_mllm
from ..mllm.answer import RANDOM_WEIGHTS_LABEL, display_text, token_note
from ..video import MAX_SIDE
from . import cache, memory, pipeline, render, tempfiles
from .export import run_card
from .limits import Limits

log = logging.getLogger("playground.app")
ASSETS = Path(__file__).resolve().parents[2] / "assets"
LIMITS = Limits.from_env()

try:  # ZeroGPU on Hugging Face Spaces: `spaces.GPU` borrows a GPU for the decorated call
    import spaces  # type: ignore[import-not-found]
except ImportError:
    spaces = None


def on_gpu(fn: Callable) -> Callable:
    """`spaces.GPU(fn)` where the `spaces` package is installed (a ZeroGPU Space), else `fn`."""
    return spaces.GPU(fn) if spaces is not None else fn


def friendly_errors(fn: Callable) -> Callable:
    """Show failures as one-line messages in the page (and to API clients), never as tracebacks."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except PlaygroundError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        except Exception as exc:  # a bug: full details go to the server log, one line to the user
            log.exception("callback %s failed", fn.__name__)
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            raise gr.Error(
                f"internal error ({type(exc).__name__}: {first}); the server log has the details", print_exception=False
            ) from None
        finally:
            memory.trim()  # what the call freed goes back to the system (see memory.MMAP_THRESHOLD)

    return wrapper


def settings_from(num_frames, fps, start, gazer, reconstructor, threshold, ratio, tile=None) -> pipeline.RunSettings:
    """The page's knobs as checked `RunSettings` (None from an emptied box means the default)."""
    d = pipeline.RunSettings()
    values = dict(
        num_frames=num_frames,
        fps=fps,
        start=start,
        gazer=gazer,
        reconstructor=reconstructor,
        threshold=threshold,
        gazing_ratio=ratio,
        tile=tile,
    )
    chosen = {k: v for k, v in values.items() if v is not None and v != ""}
    return pipeline.RunSettings(**{**d.__dict__, **chosen}).checked(LIMITS)


@friendly_errors
@on_gpu
def gaze_action(
    video,
    num_frames=None,
    fps=None,
    start=None,
    gazer=None,
    reconstructor=None,
    threshold=None,
    ratio=None,
    tile=None,
    progress=gr.Progress(),
) -> dict:
    """Gaze a video: pick which multi-scale patches (32/64/112/224 px, 265 slots a frame) to keep, rebuild the
    video from them and report slots kept, loss and PSNR per frame (`pipeline.run`, whole-frame or tiled).

    With tiles the scrubber is off (it needs one whole-frame clip) and the panel shows frame 0. Returns
    `GAZE_OUTPUTS` by name; None for any argument but the video means its default.

    Args:
        video: the video file (mp4, webm, mov, ...; a URL for MCP clients).
        num_frames: frames to sample from the video (default 16; at most the server's limit).
        fps: sampling rate in frames per second; 0 spreads the frames uniformly over the video.
        start: where sampling starts, in seconds.
        gazer: which gazer picks the patches: greedy, framediff, random, full, autogaze-playground, or an AutoGaze
            hub id such as nvidia/AutoGaze (non-commercial licence).
        reconstructor: what rebuilds the video from the kept patches: paint, or a VideoMAE_AutoGaze hub id.
        threshold: error threshold (task_loss_requirement): a frame stops gazing once its loss is at or below it;
            0 turns it off (default 0.2).
        ratio: gazing ratio, the cap on slots kept per frame as a fraction of 265 (default 0.75).
        tile: tile size in pixels: 0 gazes the whole frame read at 480 px; above 0 the native frames are cut into
            squares of that size, each gazed on its own.

    Returns:
        the summary, the overlay and original|reconstruction videos, the frame slider and panel, plots of slots,
        loss and quality per frame, the export files and the run card (with the models' licences).
    """
    settings = settings_from(num_frames, fps, start, gazer, reconstructor, threshold, ratio, tile)
    folder = tempfiles.run_dir()
    run = pipeline.run(video, settings, LIMITS, progress, folder)
    progress(pipeline.RUN_SHARE, desc="drawing and writing the results")
    card = run_card(run, cache.get_gazer(settings.gazer), cache.get_reconstructor(settings.reconstructor))
    view = render.render_run(run, folder, card)
    tokens, loss, quality = render.run_figures(run)
    T = view.num_frames
    return {
        "summary": view.summary,
        "overlay": str(view.overlay_video),
        "rebuilt": str(view.compare_video),
        "scrubber": gr.Slider(minimum=0, maximum=max(T - 1, 1), value=0, step=1, interactive=view.whole_clip and T > 1),
        "panel": render.frame_panel(view, 0),
        "tokens_plot": tokens,
        "loss_plot": loss,
        "quality_plot": quality,
        "files": [str(p) for p in view.files],
        "card": card,
        "view": view,
    }


# The ranges the page's boxes show (layout builds its widgets with them). A typed value reaches the callbacks
# as typed (layout's tolerant widgets skip Gradio's own bound check, which would fail every panel at once),
# and `page_knobs` refuses one outside its box in one line; API clients get the library's wider checks.
PAGE_RANGES = {
    "frames": (1, LIMITS.max_frames),
    "sampling fps": (0, None),
    "start": (0, None),
    "error threshold": (0.0, 1.5),
    "gazing ratio": (0.01, 1.0),
    "tile size": (0, MAX_SIDE),
    "max new tokens": (1, 128),
    "frame": (0, None),
}


def page_knobs(**boxes) -> None:
    """Refuse an emptied box or a typed value outside the range its widget shows, in one line (PlaygroundError).

    `boxes`: the page's value of each box in `PAGE_RANGES`, keyed by its name with `_` for spaces.
    """
    for key, value in boxes.items():
        name = key.replace("_", " ")
        lo, hi = PAGE_RANGES[name]
        if value is None or (isinstance(value, str) and not value.strip()):
            raise PlaygroundError(
                f"the {name} box is empty: type a number"
                + (f" between {lo:g} and {hi:g}" if hi is not None else f" of at least {lo:g}")
            )
        number = finite_number(value, name)
        if number < lo or (hi is not None and number > hi):
            where = f"between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}"
            raise PlaygroundError(f"{name} must be {where}, got {number:g}")


D = pipeline.RunSettings()


def gaze_page_action(
    video,
    num_frames=D.num_frames,
    fps=D.fps,
    start=D.start,
    gazer=D.gazer,
    reconstructor=D.reconstructor,
    threshold=D.threshold,
    ratio=D.gazing_ratio,
    tile=D.tile,
    view=None,
    progress=gr.Progress(),
):
    """The Gaze button and the knobs on the page: `gaze_action`, but a failure keeps the last good result.

    The knobs come as the page's boxes hold them: an emptied box (None) or a typed value outside the
    widget's range is refused in one line (`page_knobs`), like any other failure. The error is shown
    once (a toast and the summary's first line), the summary says the results below are stale, and
    every other panel keeps what it showed (API clients call `/gaze`, which raises instead).
    """
    try:
        page_knobs(
            frames=num_frames,
            sampling_fps=fps,
            start=start,
            error_threshold=threshold,
            gazing_ratio=ratio,
            tile_size=tile,
        )
        return {
            **gaze_action(
                video, num_frames, fps, start, gazer, reconstructor, threshold, ratio, tile, progress=progress
            ),
            "shown": video,
        }
    except (gr.Error, PlaygroundError) as exc:  # every other output keeps what it shows
        return {"summary": stale_summary(message_of(exc), view and view.summary), "shown": video}


def message_of(exc: Exception) -> str:
    """The one line a `gr.Error` or `PlaygroundError` says."""
    return str(getattr(exc, "message", None) or exc)


STALE_LINE = "*The results below are stale: they are from the last run that worked.*"


def stale_summary(message: str, last_good: str | None, failed: str = "This run failed", toast: bool = True) -> str:
    """Show `message` once (a toast, unless `toast` is False) and return the text for the panel's note: the
    message first, then `last_good` (the note of the results still on screen) marked stale, when there is one."""
    if toast:
        gr.Warning(message)
    summary = f"**⚠ {failed}:** {message}"
    return f"{summary}\n\n{STALE_LINE}\n\n{last_good}" if last_good else summary


def last_good(note: str | None) -> str | None:
    """The part of a panel's note that describes the results on screen: the note itself, or, after a failure,
    what `stale_summary` kept of the last good one (None when nothing worked yet)."""
    note = (note or "").strip()
    if STALE_LINE in note:
        return note.split(STALE_LINE, 1)[1].strip() or None
    return None if note.startswith("**⚠") else note or None


# The components each event writes, in order, by their names in layout's `ui` (layout wires these lists).
GAZE_OUTPUTS = (
    "summary",
    "overlay",
    "rebuilt",
    "scrubber",
    "panel",
    "tokens_plot",
    "loss_plot",
    "quality_plot",
    "files",
    "card",
    "view",
)
GAZED_ANSWER_LABEL = "answer on the gazed patches"
FULL_ANSWER_LABEL = "answer on every patch"
PRUNED_ANSWERS_LABEL = "answers after post-ViT pruning to the gazed answer's LLM vision tokens"
# /ask's outputs: the post-ViT pruning answers last, so that clients reading the first five keep working
ASK_OUTPUTS = ("gazed_answer", "full_answer", "cost_table", "cost_plot", "ask_note", "pruned_answers")
COMPARE_OUTPUTS = ("compare_table", "compare_bars", "compare_lines")  # /compare's, for API clients
COMPARE_PAGE_OUTPUTS = (*COMPARE_OUTPUTS, "compare_note")  # the page's: with the note that says what they show
CALIBRATION_OUTPUTS = ("calibration_note", "calibration_plot")
CLEARED_OUTPUTS = (*GAZE_OUTPUTS, "curve_plot", *CALIBRATION_OUTPUTS, *ASK_OUTPUTS, *COMPARE_PAGE_OUTPUTS, "shown")


def same_clip(video, shown) -> bool:
    """Whether `video` is the clip `shown`: the same path, or the same bytes under another path (Gradio serves
    a linked example from its own copy). Sizes first, so another clip costs no read."""
    if video == shown:
        return True
    try:
        a, b = Path(str(video)), Path(str(shown))
        return shown is not None and a.stat().st_size == b.stat().st_size and a.read_bytes() == b.read_bytes()
    except OSError:
        return False


def clear_action(video=None, shown=None, view=None):
    """A new input video: read and check it first, then clear every result, so that nothing on screen
    describes another clip.

    `shown` is the video the results describe (set by `gaze_page_action`): a change event that
    arrives late for that same video (uploads can report after the run) clears nothing. A file that
    cannot be read as a video (text renamed `.mp4`, 0 bytes, over the limits) clears nothing either: one
    message (the summary's first line: the page's player shows its own "Video not playable" toast for such
    a file, so no toast is added), the last results kept below it, marked stale. Emptying
    the box (to choose another file) keeps the results too, marked stale: only a video read and checked
    clears them.
    """
    if video is not None and same_clip(video, shown):
        return {"shown": shown}  # unchanged (an empty dict would read as one value to Gradio)
    if video is None and view is not None:  # the video box was emptied: nothing read yet, so nothing cleared
        return {
            "summary": f"*No video is chosen: the results below are stale, from the last run that worked, until "
            f"a new video is read.*\n\n{view.summary}"
        }
    if video is not None:
        path = Path(str(video))
        try:
            LIMITS.check_video(path)
        except PlaygroundError as exc:
            message = str(exc).replace(str(path), path.name)
            # No toast of ours: the page's player already says "Video not playable" for such a file; the
            # summary says why, once.
            return {
                "summary": stale_summary(
                    message, view and view.summary, failed=f"{path.name} cannot be used", toast=False
                )
            }
        except Exception as exc:  # a bug: logged, one line to the user, the page kept
            log.exception("checking the video %s failed", path.name)
            return {
                "summary": stale_summary(
                    f"internal error ({type(exc).__name__}) reading {path.name}", view and view.summary, toast=False
                )
            }
    cleared = {
        "summary": "Results appear here: press **Gaze**.",
        "scrubber": gr.Slider(value=0),
        "calibration_note": CALIBRATION_PROMPT,
        "gazed_answer": "",
        "full_answer": "",
        "pruned_answers": "",
        "ask_note": "",
        "compare_note": "",
    }  # everything else: None
    return {name: cleared.get(name) for name in CLEARED_OUTPUTS}


@friendly_errors
def frame_action(view: render.RunView | None, index):
    """The scrubber: frame `index` as original | overlay | reconstruction (none for a tiled run).

    A typed frame that is not one of the clip's (or an emptied box) is one message, and the panel keeps its frame.
    """
    if view is None or not view.whole_clip:
        return None
    try:
        page_knobs(frame=index)
        last = view.num_frames - 1
        check(float(index) <= last, f"frame must be between 0 and {last}, got {float(index):g}")
    except PlaygroundError as exc:
        gr.Warning(str(exc))
        return gr.skip()
    return render.frame_panel(view, index)


@friendly_errors
@on_gpu
def curve_action(view: render.RunView | None, progress=gr.Progress()):
    """The slots-vs-threshold curve of the current clip, gazer and budget (cached), current threshold marked."""
    if view is None:
        return None
    if not view.whole_clip:
        return render.fit(render.message_figure("Tokens kept vs threshold", f"the curve is {render.NOT_WITH_TILES}"))
    run = view.run
    curve = pipeline.threshold_curve(run.clip, run.settings, progress)
    return render.fit(render.curve_figure(curve, run.settings.task_loss_requirement, run.settings.gazer))


CALIBRATION_PROMPT = (
    "For a learned gazer: press **Sweep** to gaze the clip on screen at "
    f"{len(pipeline.CALIBRATION_THRESHOLDS)} requested thresholds and plot the loss the reconstructor "
    "measures, with the gazer's calibration and without."
)


@friendly_errors
@on_gpu
def calibration_action(view: render.RunView | None, progress=gr.Progress()) -> dict:
    """The calibration view: requested threshold against measured loss on the clip on screen (`CALIBRATION_OUTPUTS`).

    A learned gazer (a predicted stop) is swept (`pipeline.calibration_sweep`, cached); any other gazer gets one
    line saying what its threshold is (exact for greedy: nothing to calibrate).
    """
    if view is None:
        return {"calibration_note": f"Press **Gaze** first. {CALIBRATION_PROMPT}", "calibration_plot": None}
    if not view.whole_clip:
        return {"calibration_note": f"The calibration view is {render.NOT_WITH_TILES}.", "calibration_plot": None}
    run = view.run
    settings, name = run.settings, run.gazer
    sweep = pipeline.calibration_sweep(run.clip, settings, progress)
    if sweep is None:
        meaning = threshold_note(run.gaze.settings, run.reconstructor)
        line = (
            f"**{name}** ignores the threshold: nothing to calibrate."
            if meaning == "ignored by this gazer"
            else f"**{name}** measures the loss as it gazes: its threshold is {meaning}, nothing to calibrate."
            if meaning.startswith("exact")
            else f"**{name}**'s threshold is {meaning}: nothing to calibrate."
        )
        return {"calibration_note": line, "calibration_plot": None}
    fig = viz.fig_threshold_calibration(sweep.requested, sweep.uncalibrated, sweep.calibrated, run.reconstructor)
    if settings.task_loss_requirement is not None:
        fig.add_vline(x=settings.task_loss_requirement, line_dash="dot", annotation_text="current")
    note = (
        f"*{run.clip.name}*, {run.clip.frames.shape[0]} frames: **{name}** gazed at each requested threshold "
        f"alone (no ratio cap), rebuilt with **{run.reconstructor}**; on the dashed line the threshold is the "
        f"loss it gives. Calibration: {threshold_note(run.gaze.settings, run.reconstructor)}."
    )
    return {"calibration_note": note, "calibration_plot": render.fit(fig)}


def calibration_reset() -> dict:
    """After a new result: the calibration view is emptied (it described the last one) until Sweep is pressed."""
    return {"calibration_note": CALIBRATION_PROMPT, "calibration_plot": None}


@friendly_errors
@on_gpu
def compare_action(
    video, ratio=0.1, num_frames=None, fps=None, start=None, gazer=None, reconstructor=None, progress=gr.Progress()
):
    """Compare every training-free gazer on the same clip at the same budget: slots, loss, PSNR, SSIM and time.

    Args:
        video: the video file (a URL for MCP clients).
        ratio: the gazing ratio every gazer spends (a fraction of the 265 slots a frame, 0.01 to 1; no threshold).
        num_frames: frames to sample from the video (default 16; at most the server's limit).
        fps: sampling rate in frames per second; 0 spreads the frames uniformly over the video.
        start: where sampling starts, in seconds.
        gazer: which gazer picks the patches: greedy, framediff, random, full, autogaze-playground, or an AutoGaze
            hub id such as nvidia/AutoGaze (non-commercial licence); here added to the table when a checkpoint.
        reconstructor: what rebuilds the video from the kept patches: paint, or a VideoMAE_AutoGaze hub id.

    Returns:
        a table (one row a gazer), bars of slots kept and PSNR, and PSNR per frame.
    """
    settings = settings_from(num_frames, fps, start, gazer, reconstructor, None, None)
    clip = pipeline.load_clip(video, settings, LIMITS)
    rows, results = pipeline.compare_gazers(clip, settings, ratio, progress=progress)
    bars, lines = render.comparison_figures(rows, results)
    return {"compare_table": pd.DataFrame(rows), "compare_bars": render.fit(bars), "compare_lines": render.fit(lines)}


@friendly_errors
@on_gpu
def ask_action(
    video,
    question="What happens in this video?",
    mllm=None,
    attention="block_causal",
    max_new_tokens=32,
    num_frames=None,
    fps=None,
    start=None,
    gazer=None,
    threshold=None,
    ratio=None,
    pruning=None,
    progress=gr.Progress(),
):
    """The gazed answer beside the full answer and, for each post-ViT `pruning` method, the answer on every
    patch with the gazed answer's LLM vision tokens kept after the ViT, with tokens, FLOPs and seconds per stage
    (one table column per answer, CLI `ask --conditions full,gazed,...`'s numbers).

    `mllm` None: the page's default (`default_mllm`: the built-in tiny model when nothing is cached).
    The answers come as box updates: text shown by `display_text` (control and replacement characters
    escaped) and, for random weights, a label saying so.
    """
    settings = settings_from(num_frames, fps, start, gazer, None, threshold, ratio)
    clip = pipeline.load_clip(video, settings, LIMITS)
    result = pipeline.ask(
        clip, settings, question, mllm or default_mllm(), attention, max_new_tokens, progress, pruning=pruning
    )
    table = pd.DataFrame(render.answer_rows(result.answers), columns=["", *result.answers])
    about = (
        f"*{clip.name}*, {clip.frames.shape[0]} frames at {clip.read_size[0]}x{clip.read_size[1]} px, "
        f"gazer {settings.gazer}, threshold {settings.threshold:g}, gazing ratio {settings.gazing_ratio:g}"
    )
    note = "\n\n".join(
        [
            f"{about}" + (f". **{result.note}**" if result.note else ""),
            token_note(result.full, result.gazed),
            pipeline.grid_note(result.gazed, result.gaze_tab),
        ]
    )
    chart = render.fit(render.answer_figure(result.answers), 420)
    random = result.random_weights
    tag = f" ({RANDOM_WEIGHTS_LABEL})" if random else ""
    boxes = [
        gr.update(value=display_text(a.text, random), label=label + tag)
        for a, label in ((result.gazed, GAZED_ANSWER_LABEL), (result.full, FULL_ANSWER_LABEL))
    ]
    pruned = gr.update(
        value="\n".join(f"{name}: {display_text(a.text, random)}" for name, a in result.pruned.items()),
        label=PRUNED_ANSWERS_LABEL + tag,
        visible=bool(result.pruned),
    )
    return {
        "gazed_answer": boxes[0],
        "full_answer": boxes[1],
        "cost_table": table,
        "cost_plot": chart,
        "ask_note": note,
        "pruned_answers": pruned,
    }


def compare_page_action(
    video,
    ratio=0.1,
    num_frames=D.num_frames,
    fps=D.fps,
    start=D.start,
    gazer=D.gazer,
    reconstructor=D.reconstructor,
    note=None,
    progress=gr.Progress(),
):
    """The page's Compare button: `compare_action`, with a note saying what the results show; a failure (a
    typed ratio or box out of range, emptied, a bad video) is one message in the note, and the last good
    comparison stays, marked stale."""
    try:
        page_knobs(gazing_ratio=ratio, frames=num_frames, sampling_fps=fps, start=start)
        out = compare_action(video, ratio, num_frames, fps, start, gazer, reconstructor, progress=progress)
        about = (
            f"*{Path(str(video)).name}*: {int(float(num_frames))} frames, every gazer at gazing ratio {float(ratio):g}"
        )
        return {**out, "compare_note": about}
    except (gr.Error, PlaygroundError) as exc:
        return {"compare_note": stale_summary(message_of(exc), last_good(note), failed="This comparison failed")}


def ask_page_action(
    video,
    question="What happens in this video?",
    mllm=None,
    attention="block_causal",
    max_new_tokens=32,
    num_frames=D.num_frames,
    fps=D.fps,
    start=D.start,
    gazer=D.gazer,
    threshold=D.threshold,
    ratio=D.gazing_ratio,
    pruning=None,
    note=None,
    progress=gr.Progress(),
):
    """The page's Ask button: `ask_action`, but a failure (a typed max-tokens or knob out of range, emptied, a
    model that does not load) is one message in the note under the answers, which stay, marked stale."""
    try:
        page_knobs(
            max_new_tokens=max_new_tokens,
            frames=num_frames,
            sampling_fps=fps,
            start=start,
            error_threshold=threshold,
            gazing_ratio=ratio,
        )
        return ask_action(
            video,
            question,
            mllm,
            attention,
            max_new_tokens,
            num_frames,
            fps,
            start,
            gazer,
            threshold,
            ratio,
            pruning,
            progress=progress,
        )
    except (gr.Error, PlaygroundError) as exc:
        return {"ask_note": stale_summary(message_of(exc), last_good(note), failed="This question failed")}


def ask_api_action(
    video,
    question="What happens in this video?",
    mllm=None,
    attention="block_causal",
    max_new_tokens=32,
    num_frames=None,
    fps=None,
    start=None,
    gazer=None,
    threshold=None,
    ratio=None,
    pruning=None,
    progress=gr.Progress(),
):
    """Ask a video MLLM a question on the same frames: on the gazed patches only, on every patch and, optionally,
    on every patch with tokens pruned after the ViT to the gazed answer's count, with tokens, GFLOPs and seconds
    per stage (`ask_action`; the answers as plain text).

    Args:
        video: the video file (a URL for MCP clients).
        question: the question about the video.
        mllm: the MLLM: smolvlm2-256m, smolvlm2-500m, smolvlm2-2.2b, llava-onevision-0.5b, llava-onevision-7b,
            qwen3-vl-2b, qwen3-vl-4b, qwen3.5-0.8b, qwen3.5-2b, qwen3.5-4b (Apache-2.0), tiny-random-smolvlm2,
            tiny-random-qwen3-vl, tiny-random-qwen3.5 (random weights, offline), a hub id or a local folder;
            None = the page's default.
        attention: how gazed tokens attend in the vision encoder: block_causal, frame_independent or bidirectional.
        max_new_tokens: the longest answer, in tokens (1 to 128).
        num_frames: frames to sample from the video (default 16; at most the server's limit).
        fps: sampling rate in frames per second; 0 spreads the frames uniformly over the video.
        start: where sampling starts, in seconds.
        gazer: which gazer picks the patches: greedy, framediff, random, full, autogaze-playground, or an AutoGaze
            hub id such as nvidia/AutoGaze (non-commercial licence).
        threshold: error threshold for the gazer (task_loss_requirement; 0 = off).
        ratio: gazing ratio, the cap on patches kept per frame.
        pruning: post-ViT pruning baselines to add, each at the gazed answer's LLM vision tokens: a list of evs,
            drop-uniform, drop-random (every patch through the vision encoder, then that many LLM tokens kept);
            None or [] = none.

    Returns:
        the answer on the gazed patches, the answer on every patch, the cost table (one column per answer), its
        chart, a note, and the post-ViT pruning answers (one line each, 'method: answer').
    """
    out = ask_action(
        video,
        question,
        mllm,
        attention,
        max_new_tokens,
        num_frames,
        fps,
        start,
        gazer,
        threshold,
        ratio,
        pruning,
        progress=progress,
    )
    return {**out, **{name: out[name]["value"] for name in ("gazed_answer", "full_answer", "pruned_answers")}}


__all__ = [
    "gaze_action",
    "gaze_page_action",
    "clear_action",
    "frame_action",
    "curve_action",
    "compare_action",
    "compare_page_action",
    "calibration_action",
    "calibration_reset",
    "ask_action",
    "ask_page_action",
    "ask_api_action",
    "LIMITS",
    "on_gpu",
    "friendly_errors",
]
