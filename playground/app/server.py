"""Run the app in the background on a free local port (for tests, benchmarks and screenshots)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Iterator

import gradio as gr

from .layout import build_demo, launch_kwargs

APP = Path(__file__).resolve().parents[2] / "app.py"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(demo: gr.Blocks | None = None, port: int | None = None) -> Iterator[str]:
    """Launch `demo` (default: the app) without blocking; yields its URL and closes it afterwards."""
    demo = demo or build_demo()
    kwargs = {**launch_kwargs(), "server_name": "127.0.0.1", "server_port": port or free_port()}
    demo.launch(prevent_thread_lock=True, quiet=True, **kwargs)
    try:
        yield f"http://127.0.0.1:{kwargs['server_port']}/"
    finally:
        demo.close()


@contextlib.contextmanager
def app_process(
    env: dict[str, str | None] | None = None, stop: int = signal.SIGTERM, timeout: float = 120.0
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python app.py` in a subprocess on a free port of 127.0.0.1; yields (process, URL) once it answers.

    `env` is added to this process's environment (a None value unsets a variable; analytics are off and
    the hub offline). Afterwards the app is stopped with `stop` and waited for, and killed if it hangs.
    The default is SIGTERM, which app.py handles as Ctrl-C: a process started in the background by a
    shell inherits SIGINT ignored, so Ctrl-C's signal would not reach it.
    """
    port = free_port()
    merged = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        **(env or {}),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
    }
    env = {k: v for k, v in merged.items() if v is not None}
    url = f"http://127.0.0.1:{port}/"
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: a chatty app never blocks on it
        app = subprocess.Popen(
            [sys.executable, str(APP)], cwd=APP.parent, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True
        )
        try:
            _wait_until_up(url, app, log, timeout)
            yield app, url
        finally:
            stop_app(app, stop)


def stop_app(app: subprocess.Popen, stop: int = signal.SIGTERM, timeout: float = 30.0) -> None:
    """Send `stop` to `app` (nothing if it has exited) and wait for it; kill it if it hangs past `timeout` s."""
    app.send_signal(stop)
    try:
        app.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait()


def _wait_until_up(url: str, app: subprocess.Popen, log, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if app.poll() is not None:
            log.seek(0)
            last = (log.read().strip().splitlines() or [""])[-1]
            raise RuntimeError(f"app.py exited with status {app.returncode} before answering: {last}")
        try:
            with urllib.request.urlopen(url + "config", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"app.py did not answer on {url} within {timeout:.0f} s")
