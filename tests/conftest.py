"""Shared fixtures: the device from $PLAYGROUND_DEVICE (default cpu), example clips, fixture paths,
and the tiny checkpoint of each learned family that the registry-parametrised tests load."""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

# torch's OpenMP threads (libgomp) spin 1000 times, not 300000, before they sleep between parallel regions.
# The long spin costs nothing on an idle machine, but when another process holds a core (a training run
# beside the suite, the suite's own subprocesses) the spinning thread and the one it waits for take turns on
# that core: a 4 s test took 40 s on a busy 2-core machine. Sleeping at once (OMP_WAIT_POLICY=PASSIVE) cost
# 12 % on an idle one; this short spin costs nothing measurable there. libgomp reads the variable as torch
# loads it, so it is set before `import torch`; subprocesses inherit it; an explicit setting wins.
os.environ.setdefault("GOMP_SPINCOUNT", "1000")
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ASSETS = ROOT / "assets"
EXAMPLE_VIDEO = ASSETS / "bigbuckbunny_clip.mp4"

# Building the app fixes glibc's mmap threshold for the whole process (`memory.tune_allocator`), which
# (at the 128 KiB it once used) made every CPU test after the app's about 3x slower. With the variable
# set, the suite process keeps glibc's defaults (it reads the variable only at start) and
# `tune_allocator` leaves it alone, while the app servers the tests start get the app's threshold.
os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(4 << 20))  # = playground.app.memory.MMAP_THRESHOLD

# Tests are deterministic and small: keep torch from oversubscribing the 2 CI cores.
torch.set_num_threads(min(2, torch.get_num_threads()))
TORCH_THREADS = torch.get_num_threads()


# Tiny checkpoints are written at collection (the parameter lists need their folders), once per session;
# the folder goes when the session's interpreter exits.
_TINY = tempfile.TemporaryDirectory(prefix="playground-tiny-")


def tiny_checkpoints(loaders) -> list:
    """pytest params: for each learned family (`playground.loaders.Loader`), the folder of a tiny random
    checkpoint its `tiny` function wrote, to be loaded by that folder like any checkpoint."""
    params = []
    for loader in loaders:
        folder = Path(_TINY.name) / loader.family
        if not folder.exists():
            loader.function("tiny")(folder, seed=0)
        params.append(pytest.param(str(folder), id=f"{loader.family}-tiny"))
    return params


def param_value(param):
    """The value of a plain parameter or of a `pytest.param`."""
    return param.values[0] if hasattr(param, "values") else param


@pytest.fixture(autouse=True)
def _torch_threads():
    """Give every test the suite's torch threads back: building the app sets them for its concurrent runs
    (`layout.build_demo`), which otherwise left every later test on one thread."""
    yield
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)


@pytest.fixture(scope="session")
def device() -> torch.device:
    return torch.device(os.environ.get("PLAYGROUND_DEVICE", "cpu"))


@pytest.fixture(scope="session")
def synthetic_clip() -> np.ndarray:
    """uint8 (16, 224, 224, 3): the reference's moving-square video."""
    from playground.synthetic import moving_square

    return moving_square()


@pytest.fixture(scope="session")
def example_clip() -> np.ndarray:
    """uint8 (16, H, W, 3): 16 frames of the Big Buck Bunny example asset."""
    from playground.video import read_video

    return read_video(EXAMPLE_VIDEO, num_frames=16)


@pytest.fixture
def remote_code_folder(tmp_path):
    """(folder, marker): a model folder whose config.json `auto_map` points at a Python file that writes `marker`."""
    import json

    folder, marker = tmp_path / "remote_code_model", tmp_path / "remote_code_ran"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps(
            {
                "model_type": "evil_mllm",
                "architectures": ["EvilModel"],
                "auto_map": {"AutoConfig": "evil.EvilConfig", "AutoModelForImageTextToText": "evil.EvilModel"},
            }
        )
    )
    (folder / "evil.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n"
        "from transformers import PretrainedConfig\n\n\nclass EvilConfig(PretrainedConfig):\n"
        "    model_type = 'evil_mllm'\n"
    )
    return folder, marker


NO_SUCH_PID = 4194305  # above Linux's largest pid_max (2**22): never a running process


def aged_folder(path: Path, age_s: float = 0.0) -> Path:
    """Make folder `path`, last modified `age_s` ago."""
    path.mkdir(parents=True)
    past = time.time() - age_s
    os.utime(path, (past, past))
    return path


@pytest.fixture(scope="session")
def app_subprocess(tmp_path_factory):
    """`python app.py` in a subprocess, started once for the tests that need a real process (the MCP call, the
    SIGTERM clean-up): its MCP server on, its own TMPDIR. A function returning SimpleNamespace(process, url, tmp,
    stale, fresh); it starts the app again when a test has stopped it. Before a start, `tmp` gets two Gradio
    cache folders of a dead app: `stale`, two hours old (the start removes it), and `fresh` (kept: it may be
    another app's, still writing)."""
    from playground.app.server import app_process

    with contextlib.ExitStack() as stack:
        started: list[SimpleNamespace] = []

        def running_app() -> SimpleNamespace:
            if not started or started[-1].process.poll() is not None:
                tmp = tmp_path_factory.mktemp("app-tmpdir")
                stale = aged_folder(tmp / f"autogaze-gradio-{NO_SUCH_PID}-old123", 2 * 3600)
                fresh = aged_folder(tmp / f"autogaze-gradio-{NO_SUCH_PID}-new123")
                env = {"TMPDIR": str(tmp), "GRADIO_TEMP_DIR": None, "PLAYGROUND_APP_MCP": "1"}
                process, url = stack.enter_context(app_process(env, stop=signal.SIGTERM))
                started.append(SimpleNamespace(process=process, url=url, tmp=tmp, stale=stale, fresh=fresh))
            return started[-1]

        yield running_app


# End-to-end tests (a real browser, the notebooks' kernels, Ray's workers, the app's server in a
# subprocess): minutes of the suite. `pytest -m "not e2e"` runs the fast suite alone; CI runs all.
E2E = (
    "test_app_browser.py",
    "test_app_live.py::test_live_tab_in_a_browser",
    "test_notebooks.py",
    "test_app_e2e.py",
    "test_dataset.py::test_ray_gives",
    "test_app_share.py::test_a_tool_call_through_the_mcp_endpoint",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(part in item.nodeid for part in E2E):
            item.add_marker(pytest.mark.e2e)
