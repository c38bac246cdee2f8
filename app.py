"""AutoGaze Playground: the Gradio app (`make app`, or a Hugging Face Space with `app_file: app.py`).

The layout and callbacks live in `playground/app/`; this file only builds and launches them.
The port comes from $GRADIO_SERVER_PORT (default 7860).
"""

from playground.app import build_demo, launch_kwargs, tempfiles  # first: it gives Gradio the app's own cache
from playground.staging import interrupt_on_signals

# isort: split
import gradio as gr  # after playground.app, which sets $GRADIO_TEMP_DIR


def construct_demo() -> gr.Blocks:
    """Build the app's Blocks (queue configured, nothing loaded or launched)."""
    return build_demo()


demo = construct_demo()  # Spaces and `gradio app.py` reload mode look for a module-level `demo`

if __name__ == "__main__":
    # SIGTERM closes the server as Ctrl-C does; either first removes the app's temporary files and
    # Gradio's cache of its results (closing the server can take seconds: a kill may come first)
    with interrupt_on_signals(first=tempfiles.remove_all):
        demo.launch(**launch_kwargs())
