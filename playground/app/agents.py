"""The app's functions as MCP tools, for agents: `launch(mcp_server=mcp_enabled())`.

Gradio serves each named endpoint (`/gaze`, `/ask`, `/compare`) as a tool, described by its callback's
docstring (`Args:` says what each argument means), at `/gradio_api/mcp/` (streamable HTTP) and
`/gradio_api/mcp/sse` (SSE). The switch is $PLAYGROUND_APP_MCP (1 on, 0 off); unset, it is on on a Hugging Face
Space ($SPACE_ID set) and off elsewhere. It needs the `mcp` package (requirements.txt); without it the app runs
without the tools and logs why.
"""

from __future__ import annotations

import importlib.util
import logging
import os

log = logging.getLogger("playground.app")
TOOLS = ("gaze_action", "ask_api_action", "compare_action")  # the tool names Gradio gives /gaze, /ask, /compare


def mcp_enabled(env: dict | None = None) -> bool:
    """Whether the app serves its MCP tools ($PLAYGROUND_APP_MCP, default on a Space only) and can (`mcp`)."""
    env = os.environ if env is None else env
    switch = str(env.get("PLAYGROUND_APP_MCP", "")).strip().lower()
    wanted = switch in ("1", "true", "yes", "on") if switch else bool(env.get("SPACE_ID"))
    if wanted and importlib.util.find_spec("mcp") is None:
        log.warning("MCP tools are off: the `mcp` package is not installed (pip install -r requirements.txt)")
        return False
    return wanted
