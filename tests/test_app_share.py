"""Shareable links (`app.share`), the example cache (`app.examples`), the licence notice and the MCP tools
(`app.agents`): one tool called through the MCP endpoint of `python app.py` on a free port."""

import asyncio
import base64
import shutil
from pathlib import Path

import gradio as gr
import pytest

from playground.app import agents, examples, share
from playground.app.callbacks import gaze_page_action
from playground.app.examples import ASSETS, RUNS, cached, code_key, example_name
from playground.app.layout import launch_kwargs
from playground.licences import notice_markdown


def test_a_link_carries_the_settings_and_restores_them():
    query = share.share_query("/tmp/gradio/abc/bigbuckbunny_clip.mp4", "greedy", "paint", 0.3, 0.5, 8, 0, "export")
    assert query == (
        "?clip=bigbuckbunny_clip.mp4&gazer=greedy&reconstructor=paint&threshold=0.3&ratio=0.5&frames=8"
        "&tile=0&tab=export"
    )
    values, gaze = share.restore(dict(p.split("=") for p in query[1:].split("&")))
    assert gaze and values["video"] == str(ASSETS / "bigbuckbunny_clip.mp4")
    assert (values["gazer"], values["threshold"], values["ratio"], values["num_frames"], values["tile"]) == (
        "greedy",
        0.3,
        0.5,
        8,
        0,
    )
    assert values["tabs"].selected == "export"


def test_a_bad_link_is_named_not_raised():
    values, gaze = share.restore({"clip": "holiday.mp4", "threshold": "9", "frames": "x", "gazer": "framediff"})
    assert not gaze and values["gazer"] == "framediff" and "threshold" not in values
    assert (
        "`clip=holiday.mp4` was not used: 'holiday.mp4' is not one of the examples; upload it again"
        in values["summary"]
    )
    assert "`threshold=9` was not used" in values["summary"] and "`frames=x` was not used" in values["summary"]
    assert share.restore({}) == ({}, False)


def test_examples_are_recognised_by_their_bytes(tmp_path):
    copy = tmp_path / "synthetic_square.mp4"
    shutil.copy(ASSETS / "synthetic_square.mp4", copy)
    assert example_name(copy) == "synthetic_square.mp4"
    other = tmp_path / "bigbuckbunny_clip.mp4"
    shutil.copy(ASSETS / "synthetic_square.mp4", other)  # an example's name, other bytes
    assert example_name(other) is None and example_name(None) is None
    assert len(code_key()) == 16 and code_key() == code_key()


def test_an_example_run_is_cached_with_its_files(tmp_path):
    RUNS.clear()
    calls = []

    def counted(*args, **kwargs):
        calls.append(args)
        return gaze_page_action(*args, **kwargs)

    run = cached(counted)
    video = tmp_path / "synthetic_square.mp4"
    shutil.copy(ASSETS / "synthetic_square.mp4", video)
    args = (str(video), 4, 0, 0, "greedy", "paint", 0.2, 0.75, 0)
    first = run(*args)
    shutil.rmtree(Path(first["overlay"]).parent)  # the run folder is pruned: the cache keeps its own copy
    second = run(*args)
    assert len(calls) == 1 and second["summary"].startswith(examples.CACHED_NOTE)
    assert all(Path(p).is_file() for p in [second["overlay"], second["rebuilt"], *second["files"]])
    assert second["view"].overlay_video == Path(second["overlay"])
    run(str(video), 4, 0, 0, "greedy", "paint", 0.3, 0.75, 0)  # other settings: run again
    assert len(calls) == 2 and len(RUNS) == 2
    # Gradio reads the wrapped callback's signature and passes the view and its progress positionally
    third = run(str(video), 4, 0, 0, "greedy", "paint", 0.4, 0.75, 0, None, gr.Progress())
    assert len(calls) == 3 and "overlay" in third


def test_the_licence_notice_marks_non_commercial_models():
    text = notice_markdown({"gazer": "nvidia/AutoGaze", "reconstructor": "paint"}, "/x/bigbuckbunny_clip.mp4")
    assert (
        "gazer `nvidia/AutoGaze`: NVIDIA Source Code License-NC (NSCLv1) (non-commercial use only) "
        "**(non-commercial)**" in text
    )
    assert "clip `bigbuckbunny_clip.mp4`: CC BY 3.0" in text


def test_mcp_switch():
    assert not agents.mcp_enabled({})
    assert agents.mcp_enabled({"SPACE_ID": "someone/autogaze"})
    assert not agents.mcp_enabled({"SPACE_ID": "someone/autogaze", "PLAYGROUND_APP_MCP": "0"})
    assert agents.mcp_enabled({"PLAYGROUND_APP_MCP": "1"})
    assert "mcp_server" in launch_kwargs()


def test_a_tool_call_through_the_mcp_endpoint(app_subprocess):
    """`python app.py` with PLAYGROUND_APP_MCP=1 (conftest's app_subprocess, which the SIGTERM clean-up test stops)."""
    pytest.importorskip("mcp")
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    async def call(url):
        async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                tools = {tool.name: tool for tool in (await session.list_tools()).tools}
                # a URL or a data: URI (Gradio refuses URLs of private hosts such as this test's server)
                clip = (
                    "data:video/mp4;base64," + base64.b64encode((ASSETS / "synthetic_square.mp4").read_bytes()).decode()
                )
                result = await session.call_tool("gaze_action", {"video": clip, "num_frames": 4})
                return tools, result

    tools, result = asyncio.run(call(app_subprocess().url))
    assert set(agents.TOOLS) <= set(tools)
    assert "ratio" in tools["gaze_action"].inputSchema["properties"]
    assert "gazing ratio" in tools["gaze_action"].inputSchema["properties"]["ratio"].get("description", "")
    assert not result.isError, result.content
    text = " ".join(getattr(c, "text", "") for c in result.content)
    assert "4 frames read at 224x224 px" in text and "**greedy** ke" in text  # the summary, first of the outputs
