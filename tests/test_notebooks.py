"""The tutorial notebooks: each runs top to bottom on this venv's kernel, offline, without errors.

Every notebook in `notebooks/` is executed with nbclient on an in-memory copy (the committed file is
never written), two at a time (one kernel of one thread per core), with the working directory set to
`notebooks/` as JupyterLab does, and
`PLAYGROUND_DEVICE` (default cpu), `HF_HUB_OFFLINE=1` and `OMP_NUM_THREADS` (default 1) in the
kernel's environment. A cell that raises, or runs past CELL_TIMEOUT_S, fails the test. Cheaper
checks keep the files themselves tidy: valid nbformat 4 with the python3 kernelspec, committed without outputs, and thin (the
notebooks call the library; they define no functions).

    .venv/bin/python -m pytest tests/test_notebooks.py -q --durations=0
"""

from __future__ import annotations

import ast
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT_S = 120  # one cell; a whole notebook is meant to take well under a minute on 2 CPU cores
EXPECTED = [
    "01_quick_start",
    "02_threshold",
    "03_inside_autogaze",
    "04_gazed_mllm",
    "05_any_length_any_resolution",
    "06_train_your_own_gazer",
    "07_evaluate_on_your_question_set",
]


def _code_cells(nb) -> list[str]:
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def test_every_tutorial_is_there():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_valid_and_stripped(path: Path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.nbformat == 4
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    ids = [json.loads(path.read_text())["cells"][i].get("id") for i in range(len(nb.cells))]
    assert None not in ids and len(set(ids)) == len(ids), f"{path.name}: every cell needs its own id (nbformat 4.5)"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: commit it without outputs"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_defines_no_functions(path: Path):
    nb = nbformat.read(path, as_version=4)
    for source in _code_cells(nb):
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))))
        defined = [
            node
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef))
        ]
        assert not defined, f"{path.name} defines code ({type(defined[0]).__name__}); put it in the library"


KERNEL_ENV = {  # what every kernel sees
    "PLAYGROUND_DEVICE": os.environ.get("PLAYGROUND_DEVICE", "cpu"),
    "HF_HUB_OFFLINE": "1",  # the tutorials must run offline with the built-in components
    # One torch thread in a kernel: on a busy 2-core machine, two OpenMP threads that spin-wait for each other
    # made a 3 s cell take minutes; one thread costs little when the machine is idle.
    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}
PARALLEL_KERNELS = 2  # one kernel of one thread per core of the CI machine


def _execute(path: Path):
    """Run one notebook in its own kernel; (the executed notebook or the error, seconds)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
        # The kernel is killed once the last cell has run: a graceful shutdown waited 1-2 s a notebook for
        # the kernel's interpreter to tear down torch and the rest, and ran only atexit hooks, which the
        # notebooks do not register (their files go to folders made with mkdtemp, kept either way)
        shutdown_kernel="immediate",
    )
    start = time.perf_counter()
    try:
        client.execute()
    except Exception as exc:  # reported by that notebook's own test
        return exc, time.perf_counter() - start
    return nb, time.perf_counter() - start


@pytest.fixture(scope="module")
def executed():
    """Every notebook, run two at a time (each kernel is a process of one thread): {stem: (nb or error, s)}."""
    saved = {k: os.environ.get(k) for k in (*KERNEL_ENV, "MALLOC_MMAP_THRESHOLD_")}
    os.environ.update(KERNEL_ENV)  # kernels inherit the environment when they start
    os.environ.pop("MALLOC_MMAP_THRESHOLD_", None)  # conftest's app setting: a notebook is no app server
    try:
        with ThreadPoolExecutor(PARALLEL_KERNELS) as pool:
            return dict(zip([p.stem for p in NOTEBOOKS], pool.map(_execute, NOTEBOOKS)))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path: Path, executed):
    nb, seconds = executed[path.stem]
    print(f"{path.name}: {seconds:.1f} s")
    if isinstance(nb, Exception):
        raise nb
    ran = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert ran and all(cell.execution_count is not None for cell in ran)
    if path.stem in SAME_RUN:  # the app's default run, kept the same in the notebooks, the CLI and the API
        text = "\n".join(
            out.get("text", "") for cell in ran for out in cell.outputs if out.get("output_type") == "stream"
        )
        expected = _default_run_slots()
        assert f"greedy: {expected}/4240 slots kept" in text, f"{path.name} does not keep the default run's slots"
        if path.stem == "01_quick_start":
            assert f"slots kept: notebook {expected}, CLI {expected}" in text


SAME_RUN = ("01_quick_start", "02_threshold")  # each gazes Big Buck Bunny with greedy at threshold 0.2, ratio 0.75


def _default_run_slots() -> int:
    """Slots the app keeps with its defaults on the example clip (the number the notebooks must reproduce)."""
    from playground.app import callbacks, pipeline

    video = str(ROOT / "assets" / "bigbuckbunny_clip.mp4")
    return callbacks.gaze_action(video, progress=pipeline.no_progress)["view"].run.gaze.num_gazed
