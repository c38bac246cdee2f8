"""Shareable links: the page's settings in the URL's query, and a page opened from such a link restored.

A link carries `clip` (an example's or an uploaded clip's file name), `gazer`, `reconstructor`, `threshold`,
`ratio`, `frames`, `tile` and `tab` (`PARAMS`). `share_query` writes the query from the page's values (the
*copy link* button); `restore` reads it when the page loads (`gr.Request.query_params`): the knobs take the
link's values, the tab opens, and an example clip is loaded and gazed (its result then comes from the
example cache, `examples.cached`). An uploaded clip cannot travel in a link: the summary asks for it again.
A value the page cannot take is left at its default and named in the summary, never an error.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from ..errors import PlaygroundError
from .callbacks import PAGE_RANGES
from .examples import ASSETS, EXAMPLES

# query key -> (the page's component in layout's `ui`, the PAGE_RANGES box it is checked against, or None)
PARAMS = {
    "clip": ("video", None),
    "gazer": ("gazer", None),
    "reconstructor": ("reconstructor", None),
    "threshold": ("threshold", "error threshold"),
    "ratio": ("ratio", "gazing ratio"),
    "frames": ("num_frames", "frames"),
    "tile": ("tile", "tile size"),
    "tab": ("tabs", None),
}
TABS = ("gaze", "ask", "compare", "export", "live")  # the tabs' ids, as a link names them


def share_query(video, gazer, reconstructor, threshold, ratio, num_frames, tile, tab) -> str:
    """'?clip=...&gazer=...': the query of a link to the page with these values (the clip by its file name)."""
    values = {
        "clip": Path(str(video)).name if video else None,
        "gazer": gazer,
        "reconstructor": reconstructor,
        "threshold": threshold,
        "ratio": ratio,
        "frames": num_frames,
        "tile": tile,
        "tab": tab,
    }
    return "?" + urlencode({k: v for k, v in values.items() if v not in (None, "")})


def parse_query(query: dict) -> tuple[dict, list[str]]:
    """The page's values a link's `query` sets, by component name, and one note a value it could not take."""
    values, notes = {}, []
    for key, raw in query.items():
        if key not in PARAMS:
            continue
        name, box = PARAMS[key]
        raw = str(raw).strip()
        try:
            values[name] = _value(key, raw, box)
        except (PlaygroundError, ValueError) as exc:
            notes.append(f"`{key}={raw}` was not used: {exc}")
    return values, notes


def _value(key: str, raw: str, box: str | None):
    if key == "clip":
        if raw not in EXAMPLES or not (ASSETS / raw).is_file():
            raise PlaygroundError(f"{raw!r} is not one of the examples; upload it again")
        return str(ASSETS / raw)
    if key == "tab":
        if raw not in TABS:
            raise PlaygroundError(f"the tabs are {', '.join(TABS)}")
        return raw
    if box is None:
        return raw
    number = float(raw)
    lo, hi = PAGE_RANGES[box]
    if not (lo <= number and (hi is None or number <= hi)):
        raise PlaygroundError(f"{box} must be between {lo:g} and {hi:g}" if hi is not None else f"at least {lo:g}")
    return int(number) if key in ("frames", "tile") else number


def restore(query: dict) -> tuple[dict, bool]:
    """What a link restores: the page's updates by component name (and the summary's note), and whether to gaze
    (an example clip was named)."""
    values, notes = parse_query(query)
    if not values and not notes:
        return {}, False
    if "tabs" in values:
        import gradio as gr

        values["tabs"] = gr.Tabs(selected=values["tabs"])
    lines = ["*Settings restored from the link.*", *notes]
    if "video" in values:
        lines[0] = f"*Settings and clip `{Path(values['video']).name}` restored from the link: gazing it.*"
    values["summary"] = "\n\n".join(lines)
    return values, "video" in values
