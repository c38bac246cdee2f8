"""The page: inputs on the left, results in tabs on the right, and the events that connect them.

`build_demo()` only builds the Blocks (no model is loaded, nothing is launched), so tests can inspect it.
One builder a region (`build_inputs`; `build_results`, with one a tab) returns the components it made
by name, and `wire_events` connects them. The dropdowns list what the registries list
(`available_gazers`, `available_reconstructors`, the MLLM aliases).
`launch_kwargs()` holds what `launch()` needs (port from $GRADIO_SERVER_PORT, upload cap, paths).
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace

import gradio as gr
import torch

from .. import viz
from ..gazers import available_gazers
from ..geometry import DEFAULT_GRID
from ..licences import licence_info, notice_markdown
from ..mllm import ALIASES, DEFAULT_MLLM, weights_cached
from ..mllm.answer import ATTENTION_NOTE
from ..mllm.gazed_vit import ATTENTION_MODES
from ..mllm.nvila import is_nvila
from ..mllm.pruning import PRUNING_METHODS
from ..mllm.random_models import RANDOM_WEIGHTS_NOTE, TINY_RANDOM_QWEN3_5, TINY_RANDOM_QWEN3_VL, TINY_RANDOM_SMOLVLM2
from ..reconstructors import available_reconstructors
from ..video import READ_SIDE
from . import cache, examples, memory, share
from .agents import mcp_enabled
from .callbacks import (
    ASK_OUTPUTS,
    ASSETS,
    CALIBRATION_OUTPUTS,
    CALIBRATION_PROMPT,
    CLEARED_OUTPUTS,
    COMPARE_OUTPUTS,
    COMPARE_PAGE_OUTPUTS,
    FULL_ANSWER_LABEL,
    GAZE_OUTPUTS,
    GAZED_ANSWER_LABEL,
    LIMITS,
    PAGE_RANGES,
    PRUNED_ANSWERS_LABEL,
    ask_api_action,
    ask_page_action,
    calibration_action,
    calibration_reset,
    clear_action,
    compare_action,
    compare_page_action,
    curve_action,
    frame_action,
    gaze_action,
    gaze_page_action,
)
from .live import build_live_tab, wire_live_events
from .pipeline import RunSettings, warm_up

GAZERS = available_gazers()
RECONSTRUCTORS = available_reconstructors()


def mllm_choices(default_cached: bool | None = None) -> list:
    """The MLLM aliases for the Ask tab: `DEFAULT_MLLM` and the built-in tiny model (labelled as random
    weights) first, the tiny one leading when the default's weights are not in the local cache (so Ask
    works offline as it opens), then the rest in `ALIASES` order. NVILA is left out: it runs the hub's own
    code, which the app never allows. `default_cached`: None = look in the cache (`weights_cached`)."""
    if default_cached is None:
        default_cached = weights_cached(DEFAULT_MLLM)
    tiny = (f"{TINY_RANDOM_SMOLVLM2} ({RANDOM_WEIGHTS_NOTE})", TINY_RANDOM_SMOLVLM2)
    tiny_qwen = [(f"{name} ({RANDOM_WEIGHTS_NOTE})", name) for name in (TINY_RANDOM_QWEN3_VL, TINY_RANDOM_QWEN3_5)]
    rest = [name for name, hub_id in ALIASES.items() if name != DEFAULT_MLLM and not is_nvila(hub_id)]
    return [DEFAULT_MLLM, tiny, *rest, *tiny_qwen] if default_cached else [tiny, DEFAULT_MLLM, *rest, *tiny_qwen]


MLLMS = mllm_choices(default_cached=True)  # every choice, in the cached order (the page orders them as it is built)

INTRO = """# AutoGaze Playground
Pick which multi-scale patches of a video to keep (4 + 16 + 49 + 196 = **265 slots per frame** at 32/64/112/224 px),
rebuild the video from them, and see what a video MLLM answers from the kept patches only.
Upload a clip or pick an example, then press **Gaze**. Moving the threshold or the ratio re-gazes the same frames.
The built-in gazers (`greedy`, `framediff`, `random`, `full`) and the `paint` reconstructor run offline;
AutoGaze, VideoMAE and MLLM weights load from the Hugging Face cache or a local folder."""

PRUNING_INFO = (
    "baselines that prune after the vision encoder (every patch through it, its full FLOPs), keeping as "
    "many LLM vision tokens as the gazed answer: evs (keeps the tokens that changed most since the "
    "previous frame's at the same place), drop-uniform (evenly spaced), drop-random; one table column "
    "each (CLI: ask --conditions full,gazed,evs)"
)
MLLM_INFO = "an alias, a hub id or a local folder (HF cache, assets/ or $PLAYGROUND_MODEL_DIRS)"
OFFLINE_NOTE = (
    "MLLM weights are read from the Hugging Face cache or a local folder made with `save_pretrained`. "
    "Offline, download them once elsewhere (or copy the folder) and set `HF_HUB_OFFLINE=1`; "
    "type the folder path in the box to use it. This app loads local folders only from the Hugging Face "
    "cache, `assets/` or a folder listed in `PLAYGROUND_MODEL_DIRS`."
)


def build_demo() -> gr.Blocks:
    """The whole app as a `gr.Blocks`, with its queue configured; not launched.

    Building also sizes torch's CPU thread pool for concurrent runs (`Limits.threads`) and imports
    the video and plotting libraries, so that the first request is as fast as the next ones.
    """
    d = RunSettings()
    memory.tune_allocator()  # freed frames go back to the system instead of staying in malloc's heaps
    torch.set_num_threads(LIMITS.threads())  # concurrent runs share the cores instead of oversubscribing them
    warm_up()
    with gr.Blocks(title="AutoGaze Playground", delete_cache=(900, 3600)) as demo:
        gr.Markdown(INTRO)
        view = gr.State(None, time_to_live=1800)  # the last run of a session, for the scrubber; freed after 30 min
        shown = gr.State(None)  # the input video the page's results describe (see clear_action)
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                inputs = build_inputs(d)
            with gr.Column(scale=2):
                results = build_results(d)
        tab = gr.State("gaze")  # the tab on screen, for the copy-link button (share.py)
        wire_events(SimpleNamespace(demo=demo, view=view, shown=shown, tab=tab, **inputs, **results))
    demo.queue(max_size=LIMITS.queue_size, default_concurrency_limit=LIMITS.concurrency)
    return demo


# ---- tolerant knobs ---------------------------------------------------------------------------
TYPED = "typed-box"  # the CSS class that marks a box whose typed value reaches its callback as typed


def typed(component):
    """`component` (a slider or number box) with its typed value passed to the callback as typed (None when the
    box is emptied).

    Gradio's own check (out of range, or an empty box) fails before the callback and puts an error in
    every output at once; the page's callback refuses such a value in one line instead and keeps the
    last result (`callbacks.page_knobs`). The mark is a CSS class in the constructor's arguments, because
    Gradio rebuilds a component from them when an update changes its properties (an instance patch would
    be lost); the class-level hook (`_pass_typed_values`) reads it. A subclass of a Gradio component
    would make Gradio write a `.pyi` stub beside this module at import.
    """
    classes = [*(component.elem_classes or []), TYPED]
    component.elem_classes = classes
    component.constructor_args["elem_classes"] = classes
    return component


def _pass_typed_values() -> None:
    """Let sliders and number boxes marked `TYPED` hand their payload on unchecked (once per process)."""
    for cls in (gr.Slider, gr.Number):
        if getattr(cls.preprocess, "passes_typed", False):
            continue

        def preprocess(self, payload, _checked=cls.preprocess):
            return payload if TYPED in (self.elem_classes or []) else _checked(self, payload)

        preprocess.passes_typed = True
        cls.preprocess = preprocess


_pass_typed_values()


def knob_range(name: str) -> dict:
    """minimum= and maximum= of the page's box `name` (`callbacks.PAGE_RANGES`)."""
    lo, hi = PAGE_RANGES[name]
    return dict(minimum=lo, maximum=hi) if hi is not None else dict(minimum=lo)


# ---- the inputs column -----------------------------------------------------------------------
def build_inputs(d: RunSettings) -> dict:
    """The left column: the video and how to sample it, then the models, the knobs and the Gaze buttons."""
    video = gr.Video(label="video", sources=["upload"], height=240, elem_id="input-video")
    gr.Examples(
        examples=[[p] for p in examples.example_paths()],
        inputs=[video],
        label="examples",
        elem_id="examples",
        examples_per_page=8,
    )
    gr.Markdown(examples.credits_markdown(), elem_id="credits")
    with gr.Accordion("frames", open=False):
        num_frames = typed(
            gr.Slider(
                **knob_range("frames"),
                value=d.num_frames,
                step=1,
                label="frames to sample",
                info=f"at most {LIMITS.max_frames} on this server; a shorter video gives fewer (the summary says so)",
            )
        )
        fps = typed(
            gr.Number(value=d.fps, **knob_range("sampling fps"), label="sampling fps (0 = spread the frames uniformly)")
        )
        start = typed(gr.Number(value=d.start, **knob_range("start"), label="start (s)"))
        tile = typed(
            gr.Number(
                value=d.tile,
                **knob_range("tile size"),
                precision=0,
                label="tile size (px)",
                elem_id="tile",
                info=f"0 = whole frame (read at {READ_SIDE} px). Above 0, tiles gaze "
                "the video at its native resolution: each square tile is resized "
                f"to the gazer's {DEFAULT_GRID.canvas} px input (as the CLI's "
                "--tile PX)",
            )
        )
    return dict(video=video, num_frames=num_frames, fps=fps, start=start, tile=tile, **build_gaze_controls(d))


def build_gaze_controls(d: RunSettings) -> dict:
    """Gazer, reconstructor, threshold and ratio, the Gaze button, and the hidden one behind `/gaze`."""
    gazer = gr.Dropdown(
        GAZERS,
        value=d.gazer,
        allow_custom_value=True,
        label="gazer",
        elem_id="gazer",
        info="or type an AutoGaze hub id or checkpoint folder (local folders: "
        "HF cache, assets/ or $PLAYGROUND_MODEL_DIRS)",
    )
    reconstructor = gr.Dropdown(
        RECONSTRUCTORS,
        value=d.reconstructor,
        allow_custom_value=True,
        label="reconstructor",
        info="or type a VideoMAE_AutoGaze hub id or checkpoint path "
        "(local paths: HF cache, assets/ or $PLAYGROUND_MODEL_DIRS)",
    )
    threshold = typed(
        gr.Slider(
            **knob_range("error threshold"),
            value=d.threshold,
            step=0.01,
            label="error threshold",
            info="task_loss_requirement: a frame stops once its loss is at or below it; 0 = off",
        )
    )
    ratio = typed(
        gr.Slider(
            **knob_range("gazing ratio"),
            value=d.gazing_ratio,
            step=0.01,
            label="gazing ratio",
            info="cap on slots per frame, as a fraction of 265",
        )
    )
    licence_notice = gr.Markdown(
        notice_markdown({"gazer": d.gazer, "reconstructor": d.reconstructor}), elem_id="licence-notice"
    )
    run = gr.Button("Gaze", variant="primary", elem_id="gaze-button")
    with gr.Row():
        copy_link = gr.Button("copy link", size="sm", elem_id="copy-link")
        gr.DeepLinkButton("copy link with results (on a Space)", size="sm")
    share_link = gr.Textbox(label="link to these settings", interactive=False, buttons=["copy"], elem_id="share-link")
    api_run = gr.Button("Gaze (API)", visible=False)  # /gaze for API clients: raises on bad input
    return dict(
        gazer=gazer,
        reconstructor=reconstructor,
        threshold=threshold,
        ratio=ratio,
        run=run,
        api_run=api_run,
        licence_notice=licence_notice,
        copy_link=copy_link,
        share_link=share_link,
    )


# ---- the results column ----------------------------------------------------------------------
def build_results(d: RunSettings) -> dict:
    """The right column: the run's summary and the scale legend above one tab a result."""
    summary = gr.Markdown("Results appear here.", elem_id="summary")
    gr.HTML(viz.scale_legend_html(DEFAULT_GRID), elem_id="legend")
    with gr.Tabs(elem_id="tabs") as tabs:  # the ids are what a link's `tab=` names (share.TABS)
        with gr.Tab("Gaze", id="gaze"):
            gaze = build_gaze_tab(d)
        with gr.Tab("Ask", id="ask"):
            ask = build_ask_tab()
        with gr.Tab("Compare gazers", id="compare"):
            compare = build_compare_tab()
        with gr.Tab("Export", id="export"):
            export = build_export_tab()
        with gr.Tab("Live", id="live"):
            live = build_live_tab()
    return dict(summary=summary, tabs=tabs, **gaze, **ask, **compare, **export, **live)


def build_gaze_tab(d: RunSettings) -> dict:
    """The overlay and reconstruction videos, the frame scrubber and its panel, and the per-frame plots."""
    # The right video is two frames wide (original | reconstruction): at widths 1 : 2 both show at the same
    # height whatever the clip's aspect ratio, and PAGE_CSS caps a tall (vertical) clip's height.
    with gr.Row(equal_height=True):
        overlay = gr.Video(
            label="gazed patches, coloured by scale",
            interactive=False,
            autoplay=True,
            loop=True,
            elem_id="overlay-video",
            scale=1,
            min_width=160,
        )
        rebuilt = gr.Video(
            label="original | reconstruction",
            interactive=False,
            autoplay=True,
            loop=True,
            elem_id="reconstruction-video",
            scale=2,
            min_width=320,
        )
    scrubber = typed(gr.Slider(0, d.num_frames - 1, value=0, step=1, label="frame", elem_id="scrubber"))
    panel = gr.Image(label="original | gazed | reconstruction", interactive=False, elem_id="frame-panel")
    with gr.Row():
        tokens_plot = gr.Plot(label="slots per frame", elem_id="tokens-plot")
        loss_plot = gr.Plot(label="loss per frame", elem_id="loss-plot")
    with gr.Row():
        quality_plot = gr.Plot(label="PSNR / SSIM", elem_id="quality-plot")
        curve_plot = gr.Plot(label="slots vs threshold", elem_id="curve-plot")
    with gr.Accordion("calibration: requested threshold vs measured loss", open=False, elem_id="calibration"):
        calibrate = gr.Button("Sweep", elem_id="calibration-button")
        calibration_note = gr.Markdown(CALIBRATION_PROMPT, elem_id="calibration-note")
        calibration_plot = gr.Plot(label="requested threshold vs measured loss", elem_id="calibration-plot")
    return dict(
        overlay=overlay,
        rebuilt=rebuilt,
        scrubber=scrubber,
        panel=panel,
        tokens_plot=tokens_plot,
        loss_plot=loss_plot,
        quality_plot=quality_plot,
        curve_plot=curve_plot,
        calibrate=calibrate,
        calibration_note=calibration_note,
        calibration_plot=calibration_plot,
    )


def build_ask_tab() -> dict:
    """The question, the MLLM and its options, both answers, and the cost table and chart."""
    question = gr.Textbox("What happens in this video?", label="question", lines=2)
    with gr.Row():
        cached = weights_cached(DEFAULT_MLLM)
        mllm = gr.Dropdown(
            mllm_choices(cached),
            value=DEFAULT_MLLM if cached else TINY_RANDOM_SMOLVLM2,
            allow_custom_value=True,
            label="MLLM",
            elem_id="ask-mllm",
            info=f"{MLLM_INFO}; {licence_info(DEFAULT_MLLM if cached else TINY_RANDOM_SMOLVLM2)}",
        )
        attention = gr.Radio(list(ATTENTION_MODES), value="block_causal", label="gazed encoder attention")
        max_new_tokens = typed(gr.Slider(**knob_range("max new tokens"), value=32, step=1, label="max new tokens"))
    pruning = gr.CheckboxGroup(
        list(PRUNING_METHODS),
        value=[],
        label="post-ViT pruning at the gazed tokens",
        elem_id="ask-pruning",
        info=PRUNING_INFO,
    )
    gr.Markdown(f"{OFFLINE_NOTE}\n\n{ATTENTION_NOTE}")
    ask = gr.Button("Ask", variant="primary", elem_id="ask-button")
    api_ask = gr.Button("Ask (API)", visible=False)  # /ask for API clients: the answers as plain text
    with gr.Row():
        gazed_answer = gr.Textbox(label=GAZED_ANSWER_LABEL, interactive=False, elem_id="gazed-answer")
        full_answer = gr.Textbox(label=FULL_ANSWER_LABEL, interactive=False, elem_id="full-answer")
    pruned_answers = gr.Textbox(label=PRUNED_ANSWERS_LABEL, interactive=False, visible=False, elem_id="pruned-answers")
    ask_note = gr.Markdown(elem_id="ask-note")
    cost_table = gr.Dataframe(
        label="tokens, GFLOPs and seconds per stage (the attention row is part of "
        "vision_encoder: do not add it; the total includes the gazer)",
        interactive=False,
    )
    cost_plot = gr.Plot(label="cost per stage")
    return dict(
        question=question,
        mllm=mllm,
        attention=attention,
        max_new_tokens=max_new_tokens,
        pruning=pruning,
        ask=ask,
        api_ask=api_ask,
        gazed_answer=gazed_answer,
        full_answer=full_answer,
        pruned_answers=pruned_answers,
        ask_note=ask_note,
        cost_table=cost_table,
        cost_plot=cost_plot,
    )


def build_compare_tab() -> dict:
    """One budget for every gazer, and their slots and PSNR side by side."""
    with gr.Row():
        compare_ratio = typed(
            gr.Slider(
                **knob_range("gazing ratio"),
                value=0.1,
                step=0.01,
                label="gazing ratio (the same budget for every gazer)",
            )
        )
        compare = gr.Button("Compare all gazers", variant="primary", elem_id="compare-button")
        api_compare = gr.Button("Compare (API)", visible=False)  # /compare for API clients: raises on bad input
    compare_note = gr.Markdown(elem_id="compare-note")
    compare_table = gr.Dataframe(
        label="same clip, same budget, no threshold: each gazer spends the budget "
        "(framediff keeps finest patches only, at most 196 a frame; full ignores "
        "the budget, the no-gazing reference); a blank PSNR means an exact rebuild",
        interactive=False,
        elem_id="compare-table",
    )
    with gr.Row():
        compare_bars = gr.Plot(label="slots kept and PSNR")
        compare_lines = gr.Plot(label="PSNR per frame")
    return dict(
        compare_ratio=compare_ratio,
        compare=compare,
        api_compare=api_compare,
        compare_note=compare_note,
        compare_table=compare_table,
        compare_bars=compare_bars,
        compare_lines=compare_lines,
    )


def build_export_tab() -> dict:
    """The run's files and its run card."""
    files = gr.File(
        label="gaze JSON, masks NPZ, overlay and reconstruction MP4, metrics CSV, run card",
        file_count="multiple",
        interactive=False,
        elem_id="exports",
    )
    card = gr.JSON(label="run card")
    return dict(files=files, card=card)


# ---- events ----------------------------------------------------------------------------------
def wire_events(ui: SimpleNamespace) -> None:
    """Connect the components `build_inputs` and `build_results` made (`ui`: them by name, and `view`)."""
    work = dict(concurrency_limit=LIMITS.concurrency, concurrency_id="work")
    wire_gaze_events(ui, work)
    wire_live_events(ui)
    ask_in = [
        ui.video,
        ui.question,
        ui.mllm,
        ui.attention,
        ui.max_new_tokens,
        ui.num_frames,
        ui.fps,
        ui.start,
        ui.gazer,
        ui.threshold,
        ui.ratio,
        ui.pruning,
    ]
    ask = dict(concurrency_limit=1, concurrency_id="mllm")
    # The page's answers come with their boxes' labels (random weights say so); /ask gives API clients the text.
    # The page's buttons keep the last good result when one fails (a note says why, and that it is stale); the
    # hidden API buttons raise instead.
    ui.ask.click(
        by_component(ask_page_action, ui),
        [*ask_in, ui.ask_note],
        components(ui, ASK_OUTPUTS),
        api_visibility="private",
        **ask,
    )
    ui.api_ask.click(by_component(ask_api_action, ui), ask_in, components(ui, ASK_OUTPUTS), api_name="ask", **ask)
    compare_in = [ui.video, ui.compare_ratio, ui.num_frames, ui.fps, ui.start, ui.gazer, ui.reconstructor]
    ui.compare.click(
        by_component(compare_page_action, ui),
        [*compare_in, ui.compare_note],
        components(ui, COMPARE_PAGE_OUTPUTS),
        api_visibility="private",
        **work,
    )
    ui.api_compare.click(
        by_component(compare_action, ui), compare_in, components(ui, COMPARE_OUTPUTS), api_name="compare", **work
    )
    # Results always belong to the video on screen: a new video clears them all (a late change event
    # for the video the results already describe clears nothing).
    ui.video.change(
        by_component(clear_action, ui),
        [ui.video, ui.shown, ui.view],
        components(ui, CLEARED_OUTPUTS),
        api_visibility="private",
        show_progress="hidden",
    )


def components(ui: SimpleNamespace, names) -> list:
    """The components of `ui` with these names, in order (the output lists `callbacks` names)."""
    return [getattr(ui, name) for name in names]


def by_component(fn, ui: SimpleNamespace):
    """`fn`, whose outputs come by name (`callbacks`), with them keyed by `ui`'s components, as Gradio takes a
    dict (an output left out keeps what it shows). The signature stays `fn`'s, for Gradio's API page."""

    @functools.wraps(fn)
    def keyed(*args, **kwargs):
        return {getattr(ui, name): value for name, value in fn(*args, **kwargs).items()}

    return keyed


def wire_gaze_events(ui: SimpleNamespace, work: dict) -> None:
    """`/gaze` for API clients, the page's Gaze button and knobs, the scrubber and the calibration view."""
    # /gaze's positional inputs: new ones go at the end, so that gradio_client callers keep working
    gaze_in = [ui.video, ui.num_frames, ui.fps, ui.start, ui.gazer, ui.reconstructor, ui.threshold, ui.ratio, ui.tile]
    gaze_out = components(ui, GAZE_OUTPUTS)
    curve = dict(fn=curve_action, inputs=[ui.view], outputs=[ui.curve_plot], api_visibility="private", **work)
    # /gaze leaves out the session's view: an API client has no page to scrub, and Gradio's MCP tools fail on
    # a queued endpoint that returns a State
    api_gaze = functools.wraps(gaze_action)(
        lambda *a, **k: {n: v for n, v in gaze_action(*a, **k).items() if n != "view"}
    )
    ui.api_run.click(
        by_component(api_gaze, ui), gaze_in, [c for c in gaze_out if c is not ui.view], api_name="gaze", **work
    )
    # The page's own runs keep the last good result on screen when one fails (gaze_page_action).
    page_run = dict(
        fn=by_component(examples.cached(gaze_page_action), ui),
        inputs=[*gaze_in, ui.view],
        outputs=[*gaze_out, ui.shown],
        api_visibility="private",
        **work,
    )
    # A new result empties the calibration view (it is swept on request, `calibrate`), then draws the curve.
    reset = dict(
        fn=by_component(calibration_reset, ui),
        inputs=None,
        outputs=components(ui, CALIBRATION_OUTPUTS),
        api_visibility="private",
        show_progress="hidden",
    )
    ui.run.click(**page_run).success(**reset).success(**curve)
    for knob in (ui.threshold, ui.ratio):
        # `input` fires for mouse drags and keyboard moves alike (`release` misses the keyboard).
        knob.input(trigger_mode="always_last", **page_run).success(**reset).success(**curve)
    ui.calibrate.click(
        by_component(calibration_action, ui),
        [ui.view],
        components(ui, CALIBRATION_OUTPUTS),
        api_visibility="private",
        **work,
    )
    ui.scrubber.input(
        frame_action,
        [ui.view, ui.scrubber],
        [ui.panel],
        api_visibility="private",
        trigger_mode="always_last",
        show_progress="hidden",
    )
    wire_share_events(ui, page_run, reset, curve)


def wire_share_events(ui: SimpleNamespace, page_run: dict, reset: dict, curve: dict) -> None:
    """The licence notice and the MLLM's licence line follow the choices; the copy-link button writes the
    page's settings as a link (`share.share_query`); a page opened from a link is restored (`share.restore`) and,
    for an example clip, gazed (`page_run`, then `reset` and `curve` as after the Gaze button)."""
    private = dict(api_visibility="private", show_progress="hidden")
    chosen = [ui.gazer, ui.reconstructor, ui.video]
    notice = lambda gazer, rec, video: notice_markdown({"gazer": gazer, "reconstructor": rec}, video)  # noqa: E731
    for box in chosen:
        box.change(notice, chosen, [ui.licence_notice], **private)
    ui.mllm.change(lambda name: gr.update(info=f"{MLLM_INFO}; {licence_info(name)}"), [ui.mllm], [ui.mllm], **private)
    for child in ui.tabs.children:  # the tab on screen, for the link
        child.select(lambda tab=child.id: tab, None, [ui.tab], **private)
    link_in = [ui.video, ui.gazer, ui.reconstructor, ui.threshold, ui.ratio, ui.num_frames, ui.tile, ui.tab]
    copy = (
        "(q) => { const u = window.location.origin + window.location.pathname + q; "
        "if (navigator.clipboard) navigator.clipboard.writeText(u).catch(() => {}); return u; }"
    )
    ui.copy_link.click(share.share_query, link_in, [ui.share_link], **private).then(
        None, [ui.share_link], [ui.share_link], js=copy, **private
    )
    linked = gr.State(False)
    restorable = [getattr(ui, name) for name, _ in share.PARAMS.values()]

    def restore(request: gr.Request):
        values, gaze = share.restore(dict(request.query_params))
        out = {**{getattr(ui, name): value for name, value in values.items()}, linked: gaze}
        if "video" in values:  # the restored clip is the one its run will show: its change event clears nothing
            out[ui.shown] = values["video"]
        return out

    def linked_gaze(go, *args, progress=gr.Progress()):
        return page_run["fn"](*args, progress=progress) if go else {ui.summary: gr.skip()}  # ({}: "too few values")

    ui.demo.load(restore, None, [*restorable, ui.summary, linked, ui.shown], **private).then(
        **{**page_run, "fn": linked_gaze, "inputs": [linked, *page_run["inputs"]]}
    ).success(**reset).success(**curve)


# Pictures keep their aspect ratio inside a bounded height: a vertical clip's videos and frame panel are
# shown at most MAX_PICTURE_PX high (scaled to fit, not cropped) instead of growing the page.
MAX_PICTURE_PX = 420
PAGE_CSS = f"""
#overlay-video video, #reconstruction-video video {{ max-height: {MAX_PICTURE_PX}px; object-fit: contain; }}
#frame-panel img {{ max-height: {MAX_PICTURE_PX}px; object-fit: contain; }}
"""


def launch_kwargs() -> dict:
    """Arguments for `demo.launch()`: the port from $GRADIO_SERVER_PORT, the upload cap, the assets folder,
    the page's CSS (`PAGE_CSS`), the MCP tools' switch (`agents.mcp_enabled`)."""
    kwargs = dict(
        max_file_size=LIMITS.max_upload_text,
        allowed_paths=[str(ASSETS)],
        show_error=True,
        state_session_capacity=cache.SESSIONS,
        css=PAGE_CSS,
        mcp_server=mcp_enabled(),
    )
    if os.environ.get("GRADIO_SERVER_PORT"):
        kwargs["server_port"] = int(os.environ["GRADIO_SERVER_PORT"])
    if os.environ.get("GRADIO_SERVER_NAME"):
        kwargs["server_name"] = os.environ["GRADIO_SERVER_NAME"]
    return kwargs


__all__ = ["build_demo", "launch_kwargs"]
