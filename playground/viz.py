"""Pictures of a gaze: overlays coloured by scale, side-by-side panels, gaze order, plotly figures.

Gazers squash every frame onto a canvas x canvas square (`grid.canvas`, 224 by default), so a
slot's canvas box maps to the original frame by scaling y by H/canvas and x by W/canvas. The
overlays here draw on the ORIGINAL frames that way. Each pixel takes the colour of the finest
scale that gazed it; pixels no slot covers are dimmed.

Colours come from the Okabe-Ito palette (distinguishable with the common colour-vision
deficiencies), coarsest scale first.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from .errors import check
from .gaze import GazeResult, as_gaze_result
from .geometry import MultiScaleGrid
from .video import resize_frames

# Okabe-Ito colours, coarsest scale first; grids with more scales cycle through the rest.
SCALE_COLORS: tuple[tuple[int, int, int], ...] = (
    (0, 114, 178),  # blue
    (0, 158, 115),  # bluish green
    (240, 228, 66),  # yellow
    (213, 94, 0),  # vermillion
    (86, 180, 233),  # sky blue
    (230, 159, 0),  # orange
    (204, 121, 167),  # reddish purple
)
DIM = 0.35  # brightness kept where no slot was gazed


def scale_color(scale_index: int) -> tuple[int, int, int]:
    """RGB colour of one scale (0 = coarsest)."""
    return SCALE_COLORS[scale_index % len(SCALE_COLORS)]


def scale_legend(grid: MultiScaleGrid) -> list[tuple[str, tuple[int, int, int]]]:
    """One (label, RGB) per scale, coarsest first.

    E.g. ("32 px: 2×2 = 4 tokens, each covering 112×112 of the 224 px frame", (0, 114, 178)): each
    patch is one token, and coarse scales cover much of the frame with few tokens.
    """
    out = []
    for i, (scale, n) in enumerate(zip(grid.scales, grid.counts)):
        side, box = grid.sides[i], f"{grid.box_size(i):g}"
        out.append(
            (
                f"{scale} px: {side}×{side} = {n} tokens, each covering {box}×{box} of the {grid.canvas} px frame",
                scale_color(i),
            )
        )
    return out


def scale_legend_html(grid: MultiScaleGrid) -> str:
    """The legend as one line of HTML swatches (for the app)."""
    items = [
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:rgb{c};'
        f'margin:0 0.3em 0 0.8em;vertical-align:middle"></span>{label}'
        for label, c in scale_legend(grid)
    ]
    return "".join(items)


# ---- overlays -------------------------------------------------------------------------------


def _border(cells: np.ndarray, width: int) -> np.ndarray:
    """(length,) bool: pixels within `width` of a cell edge."""
    change = np.zeros(len(cells), dtype=bool)
    step = np.flatnonzero(np.diff(cells)) + 1  # first pixel of each new cell
    for k in range(width):
        change[np.clip(step + k, 0, len(cells) - 1)] = True
        change[np.clip(step - 1 - k, 0, len(cells) - 1)] = True
    change[:width] = True
    change[-width:] = True
    return change


def pixel_scales(
    slot_mask: torch.Tensor | np.ndarray, grid: MultiScaleGrid, height: int, width: int, line: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel finest gazed scale (`grid.finest_scale_map`), and box outlines, at a frame's resolution.

    Args:
        slot_mask: (T, S) bool, which slots of each frame were gazed.
        grid: the slot layout.
        height, width: frame size H, W.
        line: outline width in pixels (0 = no outlines).

    Returns:
        finest: int (T, H, W) index of the finest gazed scale per pixel, -1 if none.
        outline: int (T, H, W) scale whose box outline passes there (finest on top), -1 if none.
    """
    mask = torch.as_tensor(np.asarray(torch.as_tensor(slot_mask).cpu(), dtype=bool))
    finest = grid.finest_scale_map(mask, height, width).numpy()
    outline = np.full(finest.shape, -1, dtype=np.int64)
    for s in range(grid.num_scales if line else 0):  # coarse first, so finer outlines are drawn on top
        edge = _border(grid.cell_index(height, s), line)[:, None] | _border(grid.cell_index(width, s), line)[None, :]
        outline[grid.covered(mask, s, height, width).numpy() & edge[None]] = s
    return finest, outline


def _palette(num_scales: int) -> np.ndarray:
    return np.array([scale_color(i) for i in range(num_scales)], dtype=np.float32)


def overlay_frames(
    frames: np.ndarray | torch.Tensor,
    gaze: GazeResult | dict,
    clip: int = 0,
    alpha: float = 0.45,
    outline: bool = True,
    dim: float = DIM,
) -> np.ndarray:
    """Draw the gazed patches of each frame over the original frames, coloured by scale.

    Args:
        frames: uint8 (T, H, W, 3) original frames (any size; the canvas is squashed onto them),
            or (B, T, H, W, 3), from which `clip` is taken.
        gaze: the gaze of these frames (T must match).
        clip: which clip of the gaze (and of a batched `frames`) to draw.
        alpha: opacity of the scale colour over gazed pixels.
        outline: draw the outline of every gazed box in its scale colour.
        dim: brightness kept where nothing was gazed.

    Returns:
        uint8 (T, H, W, 3).
    """
    frames = _frames(frames, clip)
    gaze = as_gaze_result(gaze)
    check(0 <= clip < gaze.batch_size, f"clip {clip} is outside the gaze's {gaze.batch_size} clips")
    T, H, W = frames.shape[:3]
    check(gaze.num_frames == T, f"the gaze covers {gaze.num_frames} frames but {T} frames were given")
    line = max(1, round(min(H, W) / 360)) if outline else 0
    finest, edges = pixel_scales(gaze.slot_mask()[clip], gaze.grid, H, W, line)
    return _paint(frames, finest, edges, gaze.grid.num_scales, alpha, dim)


def paint_scales(
    frames: np.ndarray, finest: np.ndarray, num_scales: int, alpha: float = 0.45, dim: float = DIM
) -> np.ndarray:
    """uint8 (T, H, W, 3) frames with each pixel's finest gazed scale (T, H, W; -1 = none) blended in, as `overlay_frames`."""
    return _paint(frames, finest, np.full(finest.shape, -1, np.int64), num_scales, alpha, dim)


def _paint(
    frames: np.ndarray, finest: np.ndarray, edges: np.ndarray, num_scales: int, alpha: float, dim: float
) -> np.ndarray:
    """Blend scale colours into (T, H, W, 3) frames where `finest` >= 0, dim elsewhere, draw `edges` solid.

    A pixel's output depends only on its value, its channel and its finest scale, so every possible
    output is computed once (a (scales + 1, 256, 3) table, by the float32 blend) and looked up: the same
    bytes as blending every pixel, several times faster on a clip.
    """
    colors = np.concatenate([np.zeros((1, 3), np.float32), _palette(num_scales)])  # row 0: "no scale"
    gazed = np.arange(num_scales + 1) > 0  # row 0: not gazed
    keep = np.where(gazed, np.float32(1 - alpha), np.float32(dim))[:, None, None]  # (S+1, 1, 1)
    add = (colors * np.where(gazed, np.float32(alpha), np.float32(0))[:, None])[:, None, :]  # (S+1, 1, 3)
    values = np.arange(256, dtype=np.uint8)[None, :, None]
    table = np.round(values * keep + add).clip(0, 255).astype(np.uint8)  # (S+1, 256, 3)
    flat = table.reshape(-1)  # index: (scale * 256 + value) * 3 + channel
    index = (finest.astype(np.intp)[..., None] + 1) * 256 + frames
    index *= 3
    index += np.arange(3)
    out = flat[index]
    solid = edges >= 0
    if solid.any():
        out[solid] = np.round(colors[edges[solid] + 1]).clip(0, 255).astype(np.uint8)
    return out


def coverage_image(gaze: GazeResult | dict, clip: int = 0, size: int | None = None) -> np.ndarray:
    """uint8 (T, size, size, 3) map of the canvas: each pixel in its finest gazed scale's colour, black if none."""
    gaze = as_gaze_result(gaze)
    size = size or gaze.grid.canvas
    finest, _ = pixel_scales(gaze.slot_mask()[clip], gaze.grid, size, size)
    colors = np.concatenate([np.zeros((1, 3), np.float32), _palette(gaze.grid.num_scales)])
    return colors[finest + 1].astype(np.uint8)


def _frames(frames: Any, clip: int = 0) -> np.ndarray:
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().cpu().numpy()
    check(isinstance(frames, np.ndarray) and frames.dtype == np.uint8, "frames must be a uint8 array")
    if frames.ndim == 5:
        check(0 <= clip < frames.shape[0], f"clip {clip} is outside the {frames.shape[0]} clips given")
        frames = frames[clip]
    if frames.ndim == 3:
        frames = frames[None]
    check(frames.ndim == 4 and frames.shape[-1] == 3, f"frames must be (T,H,W,3), got shape {tuple(frames.shape)}")
    return frames


# ---- panels ---------------------------------------------------------------------------------


def side_by_side(
    *panels: np.ndarray | torch.Tensor, labels: Sequence[str] | None = None, height: int | None = None, gap: int = 4
) -> np.ndarray:
    """Put videos next to each other (e.g. original | gazed overlay | reconstruction), labelled.

    Args:
        panels: uint8 (T, H_i, W_i, 3) videos with the same T (a (H, W, 3) image is repeated over T).
        labels: one short text per panel, drawn at its top-left corner.
        height: common panel height (default: the tallest panel); widths keep each panel's aspect.
        gap: dark pixels between panels.

    Returns:
        uint8 (T, height, sum of widths + gaps, 3).
    """
    check(len(panels) > 0, "side_by_side needs at least one panel")
    videos = [_frames(p) for p in panels]
    T = max(len(v) for v in videos)
    check(
        all(len(v) in (1, T) for v in videos), f"panels must have the same frame count, got {[len(v) for v in videos]}"
    )
    check(labels is None or len(labels) == len(videos), "give one label per panel")
    height = int(height or max(v.shape[1] for v in videos))
    row = []
    for k, v in enumerate(videos):
        width = max(1, round(v.shape[2] * height / v.shape[1]))
        if v.shape[1:3] != (height, width):
            v = resize_frames(v, (height, width))
        v = np.repeat(v, T, axis=0) if len(v) == 1 else v.copy()
        if labels is not None and labels[k]:
            _stamp(v, labels[k])
        row.append(v)
        if k < len(videos) - 1 and gap:
            row.append(np.full((T, height, gap, 3), 24, dtype=np.uint8))
    return np.concatenate(row, axis=2)


def _text_patch(text: str, size: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """A white-on-dark label of `size` px text: uint8 (h, w, 3) pixels and float (h, w, 1) opacity."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(Image.new("L", (1, 1)))
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    pad = max(3, size // 4)
    image = Image.new("L", (x1 - x0 + 2 * pad, y1 - y0 + 2 * pad), 0)
    ImageDraw.Draw(image).text((pad - x0, pad - y0), text, fill=255, font=font)
    ink = np.asarray(image, dtype=np.float32)[..., None] / 255
    pixels = np.round(255 * ink).repeat(3, axis=-1).astype(np.uint8)
    opacity = np.maximum(ink, 0.6)  # a translucent dark box behind the text keeps it readable on any frame
    return pixels, opacity


def _stamp(video: np.ndarray, text: str, y: int = 2, x: int = 2) -> None:
    """Draw `text` in place on every frame of (T, H, W, 3), clipped to the frame.

    The text is about 1/16 of the frame's height (at least 11 px), so it stays readable when the
    picture is shown scaled down to fit a page, and smaller (at least 8 px) where that would not fit the
    frame's width.
    """
    size = max(11, round(video.shape[1] / 16))
    pixels, opacity = _text_patch(text, size)
    room = video.shape[2] - x - 2  # a narrow (vertical) frame: a smaller font, so the label fits inside the frame
    if pixels.shape[1] > room and size > 8:
        pixels, opacity = _text_patch(text, max(8, int(size * room / pixels.shape[1])))
    h, w = min(pixels.shape[0], video.shape[1] - y), min(pixels.shape[1], video.shape[2] - x)
    if h <= 0 or w <= 0:
        return
    region = video[:, y : y + h, x : x + w].astype(np.float32)
    blended = region * (1 - opacity[:h, :w]) + pixels[:h, :w] * opacity[:h, :w]
    video[:, y : y + h, x : x + w] = np.round(blended).astype(np.uint8)


def gaze_order_image(
    frame: np.ndarray | torch.Tensor, gaze: GazeResult | dict, frame_index: int = 0, clip: int = 0, max_labels: int = 99
) -> np.ndarray:
    """One frame's overlay with each gazed box numbered in gaze order (1 = first gazed).

    Args:
        frame: uint8 (H, W, 3) the original frame `frame_index`.
        gaze: the gaze of the video this frame belongs to.
        frame_index: which frame of the gaze.
        clip: which clip of the gaze.
        max_labels: number only the first this many gazes (the rest keep their colour).

    Returns:
        uint8 (H, W, 3).
    """
    from PIL import Image, ImageDraw, ImageFont

    gaze = as_gaze_result(gaze)
    image = _frames(frame)
    check(len(image) == 1, "gaze_order_image draws one (H, W, 3) frame")
    check(0 <= frame_index < gaze.num_frames, f"frame_index must lie in [0, {gaze.num_frames})")
    one = gaze.clip(clip)
    mask = one.slot_mask()[0, frame_index : frame_index + 1]
    H, W = image.shape[1:3]
    line = max(1, round(min(H, W) / 360))
    finest, edges = pixel_scales(mask, gaze.grid, H, W, line)
    picture = Image.fromarray(_paint(image, finest, edges, gaze.grid.num_scales, 0.45, DIM)[0])
    draw = ImageDraw.Draw(picture)
    ids = one.frame_slots(0, frame_index)[:max_labels]
    boxes = gaze.grid.boxes(ids) if len(ids) else np.zeros((0, 4))
    sy, sx = H / gaze.grid.canvas, W / gaze.grid.canvas
    font = ImageFont.load_default(size=max(10, round(min(H, W) / 24)))
    for order, (y0, x0, y1, x1) in enumerate(boxes, start=1):
        cy, cx = (y0 + y1) / 2 * sy, (x0 + x1) / 2 * sx
        draw.text(
            (cx, cy), str(order), fill=(255, 255, 255), anchor="mm", font=font, stroke_width=1, stroke_fill=(0, 0, 0)
        )
    return np.asarray(picture)


# ---- plotly figures -------------------------------------------------------------------------


def _rgb(color: tuple[int, int, int]) -> str:
    return f"rgb{tuple(color)}"


def drawable(values) -> list[float | None]:
    """Values as plotly draws them: floats, with None where a value is not finite (an exact frame's inf dB)."""
    return [None if v is None or not np.isfinite(v) else float(v) for v in values]


def loss_threshold(settings: dict[str, Any]) -> float | None:
    """A gaze's threshold when it is a loss (framediff's is a per-patch change on another scale), else None."""
    threshold = settings.get("task_loss_requirement")
    if isinstance(threshold, (int, float)) and settings.get("threshold_unit", "loss") == "loss":
        return float(threshold)
    return None


def fig_slots_per_frame(frames: Sequence[int], counts: Any, scales: Sequence[int], of: int, tiles: int = 1):
    """Stacked bars: gazed slots of each frame, one trace per scale (coarsest at the bottom).

    Args:
        frames: (T,) frame indices.
        counts: (T, num_scales) slots gazed per frame and scale (summed over the tiles).
        scales: each scale's patch size in px, coarsest first.
        of: slots in one frame (of one tile).
        tiles: how many tiles the counts are summed over (named in the title when more than one).

    Returns:
        plotly.graph_objects.Figure with one Bar per scale.
    """
    import plotly.graph_objects as go

    counts = np.asarray(counts)
    check(counts.shape == (len(frames), len(scales)), "counts must be (frames, scales)")
    fig = go.Figure(
        [
            go.Bar(x=list(frames), y=counts[:, s], name=f"{px} px", marker_color=_rgb(scale_color(s)))
            for s, px in enumerate(scales)
        ]
    )
    tiled = "" if tiles == 1 else f"{tiles} tiles, "
    fig.update_layout(
        barmode="stack",
        title=f"Gazed slots per frame ({tiled}of {of})",
        xaxis_title="frame",
        yaxis_title="slots",
        legend_title="scale",
    )
    return fig


def fig_loss_per_frame(
    frames: Sequence[int],
    measured: Sequence[float] | None = None,
    psnr: Sequence[float] | None = None,
    *,
    own: Sequence[float | None] | None = None,
    own_frames: Sequence[int] | None = None,
    own_kind: str = "predicted",
    gazer: str = "gazer",
    reconstructor: str = "reconstructor",
    threshold: float | None = None,
    flagged: Sequence[int] = (),
    suffix: str = "",
):
    """Loss per frame: the gazer's own trace (predicted or measured) beside the measured loss, the threshold as a
    dashed line, the frames flagged (measured over the threshold by more than 25 %) as red x, PSNR on a second axis.

    A gazer's measured trace equal to the measured loss (greedy with paint) is drawn once, named for both.

    Args:
        frames: (T,) frame indices of `measured` and `psnr`.
        measured: (T,) the reconstruction's loss per frame, or None.
        psnr: (T,) PSNR in dB per frame (inf = exact, not drawn), or None.
        own: the gazer's own loss per frame (None where it has none), or None.
        own_frames: the frame indices of `own`; default `frames`.
        own_kind: 'predicted' or 'measured'.
        gazer, reconstructor: names for the legend.
        threshold: a loss threshold, or None.
        flagged: frame indices to mark on the measured line.
        suffix: appended to the loss traces' names (", mean over tiles").

    Returns:
        plotly.graph_objects.Figure.
    """
    import plotly.graph_objects as go

    frames = [int(f) for f in frames]
    own_frames = frames if own_frames is None else [int(f) for f in own_frames]
    same = (
        own is not None
        and own_kind == "measured"
        and measured is not None
        and _same_loss(own_frames, own, frames, measured)
    )
    fig = go.Figure()
    if own is not None and not same:
        fig.add_trace(
            go.Scatter(x=own_frames, y=list(own), mode="lines+markers", name=f"{own_kind} loss ({gazer}){suffix}")
        )
    if measured is not None:
        name = f"measured loss ({reconstructor}" + (f" = {gazer}'s own trace)" if same else ")") + suffix
        fig.add_trace(go.Scatter(x=frames, y=list(measured), mode="lines+markers", name=name))
        over = set(flagged)
        if over:
            fig.add_trace(
                go.Scatter(
                    x=[f for f in frames if f in over],
                    y=[m for f, m in zip(frames, measured) if f in over],
                    mode="markers",
                    marker=dict(symbol="x", size=12, color="rgb(213,0,0)"),
                    name="measured over the threshold by > 25 %",
                )
            )
    if psnr is not None:
        fig.add_trace(
            go.Scatter(x=frames, y=drawable(psnr), mode="lines+markers", name="PSNR (dB)", yaxis="y2", line_dash="dot")
        )
        fig.update_layout(yaxis2=dict(title="PSNR (dB)", overlaying="y", side="right"))
    if threshold is not None:
        fig.add_hline(y=float(threshold), line_dash="dash", annotation_text="threshold")
    fig.update_layout(title="Loss per frame", xaxis_title="frame", yaxis_title="loss")
    return fig


def _same_loss(own_frames: list[int], own: Sequence, frames: list[int], measured: Sequence) -> bool:
    """Whether a gazer's measured loss is the reconstruction's own on every measured frame (greedy with paint)."""
    at = dict(zip(own_frames, own))
    ours = np.array([np.nan if at.get(f) is None else float(at[f]) for f in frames])
    return bool(np.allclose(ours, np.asarray(measured, dtype=float), atol=1e-5, equal_nan=False))


def fig_psnr_per_frame(
    frames: Sequence[int],
    psnr: Sequence[float],
    ssim: Sequence[float] | None = None,
    title: str = "PSNR and SSIM per frame",
):
    """PSNR per frame, with SSIM on a second axis when given; exact frames (inf dB) are said, not drawn.

    Args:
        frames: (T,) frame indices.
        psnr: (T,) PSNR in dB.
        ssim: (T,) SSIM (0..1), or None.

    Returns:
        plotly.graph_objects.Figure.
    """
    import plotly.graph_objects as go

    psnr = drawable(psnr)
    fig = go.Figure([go.Scatter(x=list(frames), y=psnr, mode="lines+markers", name="PSNR (dB)")])
    if ssim is not None:
        fig.add_trace(
            go.Scatter(x=list(frames), y=list(ssim), mode="lines+markers", name="SSIM", yaxis="y2", line_dash="dot")
        )
        fig.update_layout(yaxis2=dict(title="SSIM", overlaying="y", side="right", range=[0, 1]))
    fig.update_layout(title=title, xaxis_title="frame", yaxis_title="PSNR (dB)")
    exact = [v is None for v in psnr]
    if any(exact):  # inf dB cannot be drawn: say which frames are exact instead of leaving a hole
        text = (
            "every frame is rebuilt exactly (PSNR ∞ dB)"
            if all(exact)
            else f"{sum(exact)} of {len(exact)} frames rebuilt exactly (∞ dB, not drawn)"
        )
        fig.add_annotation(
            text=text,
            xref="paper",
            yref="paper",
            x=0.5,
            y=0.5 if all(exact) else 1.0,
            showarrow=False,
            yanchor="bottom" if not all(exact) else "middle",
        )
        if all(exact):
            fig.update_layout(yaxis=dict(range=[0, 60]))
    return fig


def fig_gaze_slots(gaze: GazeResult | dict, clip: int = 0):
    """`fig_slots_per_frame` of one clip of a gaze."""
    gaze = as_gaze_result(gaze)
    counts = gaze.counts_per_scale()[clip].numpy()  # (T, num_scales)
    return fig_slots_per_frame(range(gaze.num_frames), counts, gaze.grid.scales, gaze.grid.num_slots)


def fig_gaze_loss(gaze: GazeResult | dict | None = None, reconstruction: Any = None, clip: int = 0):
    """`fig_loss_per_frame` of one clip of a gaze (its own loss trace and loss threshold) and/or a `Reconstruction`
    (its loss, and its PSNR on a second axis)."""
    check(gaze is not None or reconstruction is not None, "give a gaze, a reconstruction or both")
    frames: list[int] = []
    kwargs: dict[str, Any] = {}
    if gaze is not None:
        gaze = as_gaze_result(gaze)
        frames = list(range(gaze.num_frames))
        if gaze.frame_loss is not None and gaze.loss_kind != "none":
            kwargs.update(own=gaze.frame_loss[clip].tolist(), own_frames=frames, own_kind=gaze.loss_kind)
        kwargs.update(gazer=gaze.gazer or "gazer", threshold=loss_threshold(gaze.settings))
    if reconstruction is not None:
        frames = reconstruction.frame_indices.tolist()
        kwargs.update(
            measured=reconstruction.loss[clip].tolist(),
            psnr=reconstruction.psnr[clip].tolist(),
            reconstructor=reconstruction.reconstructor or "reconstructor",
        )
    return fig_loss_per_frame(frames, **kwargs)


def fig_threshold_curve(
    thresholds: Sequence[float], kept_fraction: Sequence[float], psnr: Sequence[float] | None = None
):
    """Tokens kept (percent of all slots) against the error threshold, PSNR on a second axis.

    Args:
        thresholds: (K,) threshold values.
        kept_fraction: (K,) fraction of slots kept at each threshold (0..1).
        psnr: (K,) optional PSNR in dB at each threshold.

    Returns:
        plotly.graph_objects.Figure.
    """
    import plotly.graph_objects as go

    check(len(thresholds) == len(kept_fraction), "thresholds and kept_fraction differ in length")
    fig = go.Figure(
        go.Scatter(
            x=list(thresholds), y=[100 * float(k) for k in kept_fraction], mode="lines+markers", name="slots kept (%)"
        )
    )
    if psnr is not None:
        check(len(psnr) == len(thresholds), "thresholds and psnr differ in length")
        fig.add_trace(
            go.Scatter(
                x=list(thresholds), y=list(psnr), mode="lines+markers", name="PSNR (dB)", yaxis="y2", line_dash="dot"
            )
        )
        fig.update_layout(yaxis2=dict(title="PSNR (dB)", overlaying="y", side="right"))
    fig.update_layout(
        title="Tokens kept vs threshold", xaxis_title="threshold (task_loss_requirement)", yaxis_title="slots kept (%)"
    )
    return fig


def fig_threshold_calibration(
    requested: Sequence[float],
    uncalibrated: Sequence[float],
    calibrated: Sequence[float] | None = None,
    reconstructor: str = "paint",
):
    """Requested threshold against the measured loss it gave, with the y = x line a threshold that means the
    loss it names would follow.

    Args:
        requested: (K,) thresholds asked for.
        uncalibrated: (K,) measured mean per-frame loss with each handed to the gazer's head as is.
        calibrated: (K,) the same through the gazer's calibration, or None.
        reconstructor: whose loss was measured (the y-axis title).

    Returns:
        plotly.graph_objects.Figure.
    """
    import plotly.graph_objects as go

    check(len(requested) == len(uncalibrated), "requested and uncalibrated differ in length")
    check(calibrated is None or len(calibrated) == len(requested), "requested and calibrated differ in length")
    top = max([*requested, *uncalibrated, *(calibrated or [])])
    fig = go.Figure(
        go.Scatter(
            x=[0, top],
            y=[0, top],
            mode="lines",
            name="y = x (the threshold is the loss)",
            line=dict(dash="dash", color="grey"),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(requested), y=list(uncalibrated), mode="lines+markers", name="head's threshold as is (uncalibrated)"
        )
    )
    if calibrated is not None:
        fig.add_trace(
            go.Scatter(
                x=list(requested), y=list(calibrated), mode="lines+markers", name="through the gazer's calibration"
            )
        )
    fig.update_layout(
        title="Requested threshold vs measured loss",
        xaxis_title="requested threshold",
        yaxis_title=f"measured {reconstructor} loss (mean per frame)",
    )
    return fig


def fig_gazer_comparison(rows: Sequence[dict[str, Any]]):
    """Bars per gazer: slots kept (%) and, where given, PSNR (dB) on a second axis.

    Args:
        rows: dicts with "gazer" and "kept_fraction" (0..1), optionally "psnr".

    Returns:
        plotly.graph_objects.Figure with a kept trace and, if any row has PSNR, a PSNR trace.
    """
    import plotly.graph_objects as go

    check(len(rows) > 0, "nothing to compare")
    check(all("gazer" in r and "kept_fraction" in r for r in rows), "every row needs 'gazer' and 'kept_fraction'")
    names = [str(r["gazer"]) for r in rows]
    fig = go.Figure(
        go.Bar(x=names, y=[100 * float(r["kept_fraction"]) for r in rows], name="slots kept (%)", offsetgroup=0)
    )
    if any(r.get("psnr") is not None for r in rows):
        psnr = [None if r.get("psnr") is None else float(r["psnr"]) for r in rows]
        fig.add_trace(go.Bar(x=names, y=psnr, name="PSNR (dB)", yaxis="y2", offsetgroup=1))
        fig.update_layout(yaxis2=dict(title="PSNR (dB)", overlaying="y", side="right"))
    fig.update_layout(barmode="group", title="Gazers compared", yaxis_title="slots kept (%)")
    return fig
