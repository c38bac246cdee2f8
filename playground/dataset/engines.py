"""Where the clips are gazed: in this process, in a local process pool, or on Ray Data.

`run_clips(clips, settings, workers, ray_address)` yields one `job.ClipResult` per clip whichever
engine runs them; every engine does the same per-clip work (`job.ClipWorker`), so the rows do not
depend on the engine.

- Local (default): `workers` 1 gazes in this process; more start a spawn-context pool whose
  processes each load their own gazer and use one torch thread (they share the cores). Results
  come back in the clips' order.
- Ray (`ray_address` given; "" = a local Ray): a Ray Data pipeline from a dataset of clip items:
  `map` decodes each clip in a CPU task, `map_batches` gazes them in a pool of `workers` gazer
  actors (`ActorPoolStrategy`, what `concurrency=N` was before Ray 2.51; a GPU each when the
  cluster has GPUs). Results stream back to this process in the order
  they finish, where `runner` writes the shards (so resume and whole-then-rename are the same as
  locally). Ray is imported only here, and only then. `start_ray` and `map_actors` are those
  steps on their own, shared with the question-set evaluation (`playground.evaluation`).
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from ..clips import VideoClip
from ..errors import PlaygroundError
from .job import ClipResult, ClipSettings, ClipWorker, read_or_error

RAY_HINT = "pip install .[ray]"  # what to run when --ray is given without Ray installed
# CPUs a Ray decode task asks for, unlike the gazer actors' 1 on purpose: Ray fuses a map into the
# next actor stage when their demands are equal, and each actor would then decode its own clips
# between gazes instead of decode tasks running alongside the gazers.
DECODE_CPUS = 0.5


def run_clips(
    clips: Sequence[VideoClip],
    settings: ClipSettings,
    workers: int = 1,
    ray_address: str | None = None,
    worker: ClipWorker | None = None,
) -> Iterator[ClipResult]:
    """One result per clip, from the local engine (`ray_address` None) or from Ray.

    Everything that can fail in one line (the gazer's loading, Ray's import) fails here, before
    the first result is asked for. `worker`, a worker already loaded in this process, is reused
    when the clips are gazed here.
    """
    if ray_address is None:
        return run_local(clips, settings, workers, worker)
    return run_ray(clips, settings, workers, ray_address, worker)


# ---- local: this process or a process pool --------------------------------------------------


def run_local(
    clips: Sequence[VideoClip], settings: ClipSettings, workers: int = 1, worker: ClipWorker | None = None
) -> Iterator[ClipResult]:
    """One result per clip, in order, gazed here (`workers` 1) or in a pool of that many processes."""
    worker = worker or ClipWorker(settings)  # in a pool too: fail here, in one line, before any process starts
    if workers <= 1 or len(clips) <= 1:
        return (worker.run(clip) for clip in clips)
    return _pool_results(clips, settings, workers)


def _pool_results(clips: Sequence[VideoClip], settings: ClipSettings, workers: int) -> Iterator[ClipResult]:
    context = multiprocessing.get_context("spawn")  # fork would copy torch's thread pools
    with context.Pool(min(workers, len(clips)), initializer=_init_worker, initargs=(settings,)) as pool:
        yield from pool.imap(_worker_run, clips)


_WORKER: dict[str, ClipWorker] = {}


def _init_worker(settings: ClipSettings) -> None:
    torch.set_num_threads(1)  # the workers share the cores
    _WORKER["worker"] = ClipWorker(settings)


def _worker_run(clip: VideoClip) -> ClipResult:
    return _WORKER["worker"].run(clip)


# ---- Ray Data -------------------------------------------------------------------------------


def import_ray():
    """The `ray` module, with Ray Data; a one-line error saying how to install it when it is missing."""
    try:
        import ray
        import ray.data  # noqa: F401  (Ray without its data extra has no ray.data)
    except ImportError:
        raise PlaygroundError(f"--ray needs Ray Data, which is not installed: {RAY_HINT}") from None
    return ray


def run_ray(
    clips: Sequence[VideoClip],
    settings: ClipSettings,
    workers: int = 1,
    address: str = "",
    worker: ClipWorker | None = None,
) -> Iterator[ClipResult]:
    """One result per clip, in the order they finish, from a Ray Data pipeline (see the module doc).

    Args:
        clips: the clips to gaze.
        settings: what each actor's gazer does.
        workers: gazer actors (each loads its own gazer).
        address: a Ray cluster ("auto", "ray://host:10001", ...); "" starts a local Ray unless one
            is already running in this process (as the tests start it).
        worker: the check that the gazer loads, already made here (else made now).
    """
    import_ray()
    if worker is None:
        ClipWorker(settings)  # fail here, in one line, before any task starts
    if not clips:
        return iter(())
    ray, gpus = start_ray(address)
    items = ray.data.from_items([_clip_item(c) for c in clips], override_num_blocks=max(1, min(len(clips), 200)))
    decoded = items.map(_read_item, fn_kwargs={"settings": settings}, num_cpus=DECODE_CPUS)  # CPU tasks
    gazed = map_actors(decoded, _GazeStage, (settings,), workers, gpus)
    return (pickle.loads(row["result"]) for row in gazed.iter_rows())


def start_ray(address: str = ""):
    """(the `ray` module, GPUs per actor): Ray started or joined quietly, for a job with its own progress bar.

    `address` "" starts a local Ray unless one already runs in this process; else the cluster to
    join ("auto", "ray://host:10001"). Each actor gets a GPU when the cluster has GPUs (1), else none (0).
    """
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address or None, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # its per-run INFO lines would bury the CLI's
    ray.data.DataContext.get_current().enable_progress_bars = False  # the CLI shows its own bar
    gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
    return ray, gpus


def map_actors(dataset, stage: type, args: tuple, workers: int, gpus: int):
    """`dataset.map_batches` through a pool of `workers` actors of `stage(*args)`, one row a call, numpy
    batches, a CPU (and `gpus` GPUs) each."""
    ray = import_ray()
    return dataset.map_batches(
        stage,
        fn_constructor_args=args,
        batch_size=1,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=workers),
        num_cpus=1,
        num_gpus=gpus,
    )


def _clip_item(clip: VideoClip) -> dict[str, Any]:
    return {"path": str(clip.path), "start": clip.start, "key": clip.key}


def _clip_of(item: dict[str, Any]) -> VideoClip:
    return VideoClip(Path(str(item["path"])), int(item["start"]), str(item["key"]))


def _read_item(item: dict[str, Any], settings: ClipSettings) -> dict[str, bytes]:
    """Ray `map` function: decode one clip (pickled, so clips of any size, or an error, share a column)."""
    clip = _clip_of(item)
    return {"clip": pickle.dumps(clip), "read": pickle.dumps(read_or_error(clip, settings))}


class _GazeStage:
    """Ray `map_batches` actor: one gazer, loaded once; gazes one decoded clip a call."""

    def __init__(self, settings: ClipSettings):
        if not torch.cuda.is_available():
            torch.set_num_threads(1)  # CPU actors share the cores with the decode tasks
        self.worker = ClipWorker(settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[bytes]]:
        results = [
            self.worker.finish(pickle.loads(clip), pickle.loads(read))
            for clip, read in zip(batch["clip"], batch["read"])
        ]
        return {"result": [pickle.dumps(r) for r in results]}
