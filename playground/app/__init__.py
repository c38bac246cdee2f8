"""The Gradio app's UI code: layout, callbacks, caches, rendering, exports and limits.

`app.py` at the repository root calls `build_demo()`; everything that computes goes through the
core's public API (`load_gazer`, `load_reconstructor`, `load_mllm`, `GazeResult`,
`playground.video`, `playground.viz`).
"""

from . import tempfiles

tempfiles.gradio_cache()  # before Gradio is imported: it reads $GRADIO_TEMP_DIR then and as each block is made

from .layout import build_demo, launch_kwargs  # noqa: E402

__all__ = ["build_demo", "launch_kwargs"]
