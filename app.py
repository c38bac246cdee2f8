"""AutoGaze Playground: the Gradio app (`make app`, or a Hugging Face Space with `app_file: app.py`).

The layout and callbacks live in `playground/app/`; this file only builds and launches them.
The port comes from $GRADIO_SERVER_PORT (default 7860).
"""

import gradio as gr

from playground.app import build_demo, launch_kwargs


def construct_demo() -> gr.Blocks:
    """Build the app's Blocks (queue configured, nothing loaded or launched)."""
    return build_demo()


demo = construct_demo()  # Spaces and `gradio app.py` reload mode look for a module-level `demo`

if __name__ == "__main__":
    demo.launch(**launch_kwargs())
