"""Run the app in the background on a free local port (for tests, benchmarks and screenshots)."""

from __future__ import annotations

import contextlib
import socket
from typing import Iterator

import gradio as gr


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(demo: gr.Blocks | None = None, port: int | None = None) -> Iterator[str]:
    """Launch `demo` (default: the app) without blocking; yields its URL and closes it afterwards."""
    from .layout import build_demo, launch_kwargs

    demo = demo or build_demo()
    kwargs = {**launch_kwargs(), "server_name": "127.0.0.1", "server_port": port or free_port()}
    demo.launch(prevent_thread_lock=True, quiet=True, **kwargs)
    try:
        yield f"http://127.0.0.1:{kwargs['server_port']}/"
    finally:
        demo.close()
