"""AutoGaze Playground: the Gradio app (`make app`, or a Hugging Face Space with `app_file: app.py`).

The layout and callbacks live in `playground/app/`; this file only builds and launches them.
The port comes from $GRADIO_SERVER_PORT (default 7860).
"""

import gc

from playground.app import build_demo, launch_kwargs, tempfiles  # first: it gives Gradio the app's own cache
from playground.staging import interrupt_on_signals

# isort: split
import gradio as gr  # after playground.app, which sets $GRADIO_TEMP_DIR


def construct_demo() -> gr.Blocks:
    """Build the app's Blocks (queue configured, nothing loaded or launched)."""
    return build_demo()


demo = construct_demo()  # Spaces and `gradio app.py` reload mode look for a module-level `demo`


def close_on_signal() -> None:
    """SIGTERM or Ctrl-C: remove the app's temporary files and Gradio's cache of its results first (a
    kill may come before the server has closed), then close the app with `Blocks.close`, which ends
    the open heartbeat streams (a browser tab's, an API client's) before it stops the server. Gradio's
    own Ctrl-C path stops the server alone, which waits its full 5 s for those streams."""
    tempfiles.remove_all()
    demo.close()


if __name__ == "__main__":
    # SIGTERM closes the server as Ctrl-C does (close_on_signal, then KeyboardInterrupt)
    with interrupt_on_signals(first=close_on_signal):
        demo.launch(**launch_kwargs())
    # Closed, files removed: the interpreter's last garbage collections at exit would only walk the whole heap
    # (torch, Gradio, the models), over a second after one request; frozen, they skip it (atexit hooks still run)
    gc.freeze()
