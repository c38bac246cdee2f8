"""No leftovers: temporary folders are removed at exit (SIGTERM included), and stale ones that a kill
left behind are removed by the next run (the CLI's staging folder, the app's scratch and Gradio cache)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from conftest import NO_SUCH_PID
from conftest import aged_folder as folder

from playground import staging

ROOT = Path(__file__).resolve().parents[1]
SQUARE = ROOT / "assets" / "synthetic_square.mp4"


def test_stale_staging_folder_is_removed_by_the_next_cli_run(tmp_path):
    from playground.cli import main

    stale = folder(tmp_path / f"{staging.STAGING_PREFIX}{NO_SUCH_PID}-k2j4xq")  # a killed run's
    (stale / "overlay.mp4").write_bytes(b"half written")
    os.utime(stale, (time.time() - 2 * 3600,) * 2)
    fresh = folder(tmp_path / f"{staging.STAGING_PREFIX}{NO_SUCH_PID}-fresh1")  # maybe another run's, still writing
    running = folder(tmp_path / f"{staging.STAGING_PREFIX}{os.getpid()}-mine01", 2 * 3600)  # its maker still runs
    unrelated = folder(tmp_path / ".gaze-notes", 2 * 3600)
    assert main(["gaze", str(SQUARE), "--frames", "2", "--out", str(tmp_path / "out")]) == 0
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([fresh.name, running.name, unrelated.name, "out"])
    assert (tmp_path / "out" / "gaze.json").is_file()


@pytest.mark.skipif(signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, reason="SIGTERM is handled here")
def test_staging_folder_goes_on_sigterm(tmp_path):
    handlers = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with staging.staging_folder(tmp_path) as staged:
            (staged / "x").write_text("x")
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler interrupts this
    assert list(tmp_path.iterdir()) == []
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == handlers  # handlers restored


def test_app_removes_its_temporary_folders_on_sigterm(app_subprocess):
    """`python app.py` (own TMPDIR, the app the MCP test called too): a request fills Gradio's cache; SIGTERM;
    nothing of the app's is left. Before it started, its TMPDIR had a killed app's old folder and a fresh one."""
    gradio_client = pytest.importorskip("gradio_client")
    from playground.app.server import stop_app

    app = app_subprocess()
    client = gradio_client.Client(app.url, verbose=False, download_files=False)
    client.predict(gradio_client.handle_file(str(SQUARE)), 2, api_name="/gaze")
    client.close()
    own = list(app.tmp.glob(f"autogaze-gradio-{app.process.pid}-*"))
    assert len(own) == 1 and any(f.is_file() for f in own[0].rglob("*")), "uploads and results go to its own cache"
    assert not app.stale.exists() and app.fresh.exists()
    stop_app(app.process, signal.SIGTERM)
    left = sorted(p.name for p in app.tmp.iterdir() if p.name.startswith(("autogaze-", "gradio")))
    assert left == [app.fresh.name], f"left behind: {left}"
