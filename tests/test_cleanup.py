"""No leftovers: temporary folders are removed at exit (SIGTERM included), and stale ones that a kill
left behind are removed by the next run (the CLI's staging folder, the app's scratch and Gradio cache)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from playground import staging

ROOT = Path(__file__).resolve().parents[1]
SQUARE = ROOT / "assets" / "synthetic_square.mp4"
NO_SUCH_PID = 4194305  # above Linux's largest pid_max (2**22): never a running process


def folder(path: Path, age_s: float = 0.0) -> Path:
    """Make folder `path`, last modified `age_s` ago."""
    path.mkdir(parents=True)
    past = time.time() - age_s
    os.utime(path, (past, past))
    return path


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


def test_app_removes_its_temporary_folders_on_sigterm(tmp_path):
    """`python app.py` (own TMPDIR): a request fills Gradio's cache; SIGTERM; nothing of the app's is left."""
    gradio_client = pytest.importorskip("gradio_client")
    from playground.app.server import app_process

    stale = folder(tmp_path / f"autogaze-gradio-{NO_SUCH_PID}-old123", 2 * 3600)  # a killed app's
    fresh = folder(tmp_path / f"autogaze-gradio-{NO_SUCH_PID}-new123")
    with app_process({"TMPDIR": str(tmp_path), "GRADIO_TEMP_DIR": None}, stop=signal.SIGTERM) as (app, url):
        client = gradio_client.Client(url, verbose=False, download_files=False)
        client.predict(gradio_client.handle_file(str(SQUARE)), 2, api_name="/gaze")
        client.close()
        own = list(tmp_path.glob(f"autogaze-gradio-{app.pid}-*"))
        assert len(own) == 1 and any(f.is_file() for f in own[0].rglob("*")), "uploads and results go to its own cache"
        assert not stale.exists() and fresh.exists()
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(("autogaze-", "gradio")))
    assert left == [fresh.name], f"left behind: {left}"
