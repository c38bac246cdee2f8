"""The training loop: NTP on labels, then GRPO with a reconstruction reward, on one CPU or many GPUs.

`train_gazer(TrainSettings(...))` runs either method and writes a run folder (`run_folder`). One
step is `grad_accum` micro-batches of `batch_size` clips on every process, then one optimiser step.
Under `torchrun` each process takes its share of the clips (`DistributedSampler`), the
teacher-forced pass runs inside `DistributedDataParallel` (nccl on CUDA, gloo on CPU) and rank 0
alone writes. The loss of a step is normalised over the whole global batch, so any split into
processes and micro-batches gives the step of one pass over the concatenated batch.

Everything random (clip order, augmentation, the self pass's requirement, rollout draws, rebuilt
frames) comes from one `torch.Generator` per process, saved with each checkpoint, so `resume`
continues exactly.

Shapes: B clips per micro-batch, G rollouts per clip, T frames, N gaze entries.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler
from tqdm.auto import tqdm

from ..checkpoints import build_on_meta
from ..clips import CLIP_LEN, SIZE, VideoClip, read_clip_frames
from ..device import autocast, resolve_device
from ..errors import check
from ..gazers.autogaze import AutoGazeGazer, load_autogaze
from ..models.autogaze import AutoGazeConfig, AutoGazeNet
from ..video import NO_LIMITS, input_limits
from . import run_folder as rf
from .forward import TeacherForcedModule
from .losses import DISCOUNT_FACTOR
from .methods import METHODS, MicroBatch
from .sampler import SELF_PASS_REQUIREMENT, TEMPERATURE, TOP_K

MAX_LR = 1e3  # a larger learning rate overflows float32 in the optimiser instead of training
MAX_TRAIN_PARAMETERS = 200_000_000  # a new model's size limit: weights, gradients and Adam's two moments are 3.2 GB
MAX_TRAIN_LAYERS = 64  # decoder layers or vision blocks of a new model (the released model has 4 and 1)


@dataclass
class TrainSettings:
    """Every knob of a run. Defaults follow the reference's example runs (AUTOGAZE_SPEC.md § 6.3, 6.4)."""

    method: str  # a name in `methods.METHODS`: "ntp" | "grpo"
    videos: list[str]  # video files or folders
    out: str  # the run folder
    labels: str | None = None  # NTP: the labels file
    config: str = "tiny"  # a fresh model's config: tiny | full | a config.json (ignored with init)
    init: str | None = None  # start from this checkpoint (GRPO: required)
    reconstructor: str = "paint"  # GRPO's reward: paint | a VideoMAE checkpoint
    steps: int = 100
    batch_size: int = 2  # clips per micro-batch on each process
    grad_accum: int = 1  # micro-batches a step (under DDP all but the last skip the all-reduce)
    grad_clip: float | None = (
        None  # clip the global gradient norm to this before each step (None: off, as the reference)
    )
    lr: float | None = None  # default 5e-4
    min_lr: float = 1e-5  # the linear decay ends here
    optimizer: str | None = None  # adam (NTP default) | sgd (GRPO default, the reference trainer's)
    warmup: float | None = None  # fraction of the steps warming up linearly (NTP 0, GRPO 0.1)
    group_size: int = 12
    discount_factor: float = DISCOUNT_FACTOR
    temperature_start: float = TEMPERATURE[0]
    temperature_end: float = TEMPERATURE[1]
    top_k: int = TOP_K
    self_requirement: tuple[float, float] = SELF_PASS_REQUIREMENT  # the self pass's requirement range
    head_weight: float = 1.0  # NTP: weight of the task-loss head's squared error (1: the reference's sum)
    clips: str = "all"  # GRPO's clips of each video: first | all
    augment: bool = True  # GRPO: random crops and flips of the clips
    size: int = SIZE
    clip_len: int = CLIP_LEN  # GRPO's frames per clip (NTP: the labels')
    save_every: int = 0  # also keep a checkpoint every N steps (0: only the last)
    seed: int = 0
    device: str | None = None
    bf16: bool = True  # bf16 autocast of the teacher-forced pass on CUDA (as the reference)
    progress: bool = True
    command: str = ""  # the command line that made the run (for the run card)
    extras: dict[str, Any] = field(default_factory=dict)

    def resolved(self) -> "TrainSettings":
        """The method's defaults filled in, every knob checked (one-line errors)."""
        check(self.method in METHODS, f"method must be one of {tuple(METHODS)}, got {self.method!r}")
        method = METHODS[self.method]
        out = dataclasses.replace(
            self,
            lr=5e-4 if self.lr is None else self.lr,
            optimizer=self.optimizer or method.optimizer,
            warmup=method.warmup if self.warmup is None else self.warmup,
        )
        check(out.optimizer in ("adam", "sgd"), f"optimizer must be adam or sgd, got {out.optimizer!r}")
        for name in ("steps", "batch_size", "grad_accum", "group_size", "clip_len"):
            value = getattr(out, name)
            check(isinstance(value, int) and value >= 1, f"{name} must be a whole number >= 1, got {value!r}")
        check(
            0 < out.lr <= MAX_LR and 0 <= out.min_lr <= out.lr,
            f"need 0 < lr <= {MAX_LR:g} and 0 <= min_lr <= lr, got {out.lr}, {out.min_lr}",
        )
        check(0 <= out.warmup < 1, f"warmup is a fraction of the steps in [0, 1), got {out.warmup}")
        check(0 < out.discount_factor <= 1, f"discount_factor must lie in (0, 1], got {out.discount_factor}")
        check(out.temperature_start > 0 and out.temperature_end > 0, "temperatures must be positive")
        low, high = out.self_requirement
        check(low <= high, f"self_requirement is a range (low, high), got {out.self_requirement}")
        out.self_requirement = (float(low), float(high))
        check(out.save_every >= 0, f"save_every must be 0 or more, got {out.save_every}")
        check(
            out.grad_clip is None or (math.isfinite(out.grad_clip) and out.grad_clip > 0),
            f"grad_clip is a gradient norm > 0 (or None: no clipping), got {out.grad_clip}",
        )
        check(
            math.isfinite(out.head_weight) and 0 <= out.head_weight <= 1e4,
            f"head_weight is a weight from 0 to 10000, got {out.head_weight}",
        )
        method.check(out)
        return out


# ---- processes ------------------------------------------------------------------------------


@dataclass
class World:
    """This process's place among the training processes (one without torchrun)."""

    rank: int = 0
    size: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        return self.rank == 0


def join_world(device: str | None) -> World:
    """Join torchrun's process group when launched by it (nccl on CUDA, gloo on CPU), else one process."""
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(device=resolve_device(device))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    chosen = resolve_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local)
        torch.cuda.set_device(chosen)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), chosen)


def _all_sum(values: list[float], world: World) -> list[float]:
    """Each value summed over the processes, in one all-reduce (every process passes the same order)."""
    if world.size == 1:
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=world.device if world.device.type == "cuda" else "cpu")
    dist.all_reduce(t)
    return t.tolist()


# ---- the model ------------------------------------------------------------------------------


def build_gazer(settings: TrainSettings, device: torch.device):
    """The gazer to train: `init`'s checkpoint, or a fresh model of `config` (seeded)."""
    if settings.init is not None:
        init = Path(settings.init)
        if init.is_dir() and (init / "run.json").is_file():  # a run folder: its last checkpoint
            init = rf.latest_checkpoint(init)
        return load_autogaze(str(init), device=device)
    template = rf.config_template(settings.config)
    cfg = checked_config(template, settings.config)
    torch.manual_seed(settings.seed)
    net = AutoGazeNet(cfg)
    init_weights(net)
    gazer = AutoGazeGazer(net, device=device, source=f"new {settings.config} model")
    gazer.config_json = template
    return gazer


def checked_config(template: dict[str, Any], name: str) -> AutoGazeConfig:
    """The config of a new model, refused in one line (before anything is allocated) when it is too big to train."""
    cfg = AutoGazeConfig.from_dict(template)
    # Layer counts first: building a million layers costs time even on the meta device.
    check(
        max(cfg.num_layers, cfg.vision_depth) <= MAX_TRAIN_LAYERS,
        f"--config {name}: {cfg.num_layers} decoder layers and {cfg.vision_depth} vision blocks; "
        f"at most {MAX_TRAIN_LAYERS} each are trained here",
    )
    size = sum(p.numel() for p in build_on_meta(lambda: AutoGazeNet(cfg), f"--config {name}").parameters())
    check(
        size <= MAX_TRAIN_PARAMETERS,
        f"--config {name} describes {size / 1e6:,.1f} M parameters; at most "
        f"{MAX_TRAIN_PARAMETERS / 1e6:,.0f} M are trained here (the released model has about 3 M)",
    )
    return cfg


def init_weights(net: AutoGazeNet, std: float = 0.02) -> None:
    """Fresh weights: normal(0, 0.02) for linear layers, embeddings and position embeddings (as
    Hugging Face's Llama initialises), PyTorch's defaults for convolutions and norms."""
    for module in net.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(module.weight, std=std)
    torch.nn.init.normal_(net.gazing_model.connector.pos_embed, std=std)


def make_optimizer(settings: TrainSettings, params) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """Adam or SGD with a linear warm-up, then a linear decay to min_lr at the last step."""
    params = list(params)
    if settings.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=settings.lr)
    else:
        opt = torch.optim.SGD(params, lr=settings.lr)
    warm = int(settings.warmup * settings.steps)
    floor = settings.min_lr / settings.lr

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        span = max(settings.steps - warm, 1)
        return 1.0 - (1.0 - floor) * min(step - warm, span) / span

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


# ---- data -----------------------------------------------------------------------------------


class ClipOrder:
    """Which clips each step of this process takes: `DistributedSampler` epochs, cut into micro-batches."""

    def __init__(self, count: int, world: World, seed: int, per_step: int):
        self.sampler = DistributedSampler(
            range(count), num_replicas=world.size, rank=world.rank, shuffle=True, seed=seed, drop_last=False
        )
        self.per_step = per_step
        self.epoch_len = len(self.sampler)
        self._cached: tuple[int | None, list[int]] = (None, [])  # (epoch, its order)

    def step(self, step: int) -> list[int]:
        """Clip indices of global step `step` on this process (epochs continue as needed)."""
        out: list[int] = []
        first = step * self.per_step
        for i in range(first, first + self.per_step):
            epoch, j = divmod(i, self.epoch_len)
            out.append(self._epoch(epoch)[j])
        return out

    def _epoch(self, epoch: int) -> list[int]:
        if self._cached[0] != epoch:
            self.sampler.set_epoch(epoch)
            self._cached = (epoch, list(self.sampler))
        return self._cached[1]


# ---- one step -------------------------------------------------------------------------------


@dataclass
class Trainer:
    """The state of a run on this process: settings, gazer, optimiser, data order, RNG."""

    settings: TrainSettings
    world: World
    gazer: Any
    clips: list[VideoClip]
    labels: dict[str, Any] | None
    reconstructor: Any = None  # GRPO's reward (`Method.start` loads what its method needs)
    step: int = 0

    def __post_init__(self) -> None:
        s = self.settings
        self.method = METHODS[s.method]
        self.gazer.net.train()
        self.module = TeacherForcedModule(self.gazer.net)
        if self.world.size > 1:
            ids = [self.world.device.index] if self.world.device.type == "cuda" else None
            self.module = DistributedDataParallel(self.module, device_ids=ids)
        self.optimizer, self.scheduler = make_optimizer(s, self.gazer.net.parameters())
        self.order = ClipOrder(len(self.clips), self.world, s.seed, s.batch_size * s.grad_accum)
        self.generator = torch.Generator().manual_seed(s.seed * 1000 + self.world.rank)

    def scorer(self, *args):
        with autocast(self.world.device, self.settings.bf16):
            return self.module(*args)

    def read(self, index: list[int]) -> np.ndarray:
        """uint8 (B, T, H, W, 3): the clips `index`, at the run's size and clip length."""
        return np.stack(
            [read_clip_frames(self.clips[i], clip_len=self.clip_len, size=self.settings.size).frames for i in index]
        )

    @property
    def clip_len(self) -> int:
        if self.labels is None:
            return self.settings.clip_len
        return len(next(iter(self.labels.values()))["gazing_pos"])

    def train_step(self) -> dict[str, float]:
        """One optimiser step; returns its metrics (rank 0's view, summed over processes where it matters)."""
        s = self.settings
        start = time.perf_counter()
        index = self.order.step(self.step)
        self.optimizer.zero_grad(set_to_none=True)
        # Every micro-batch is read (and sampled) first, so that the normaliser covers the global batch.
        prepared = [self.method.prepare(self, index[i : i + s.batch_size]) for i in range(0, len(index), s.batch_size)]
        local, total_rows = _all_sum([sum(p.count for p in prepared), sum(p.rows for p in prepared)], self.world)
        sums: dict[str, float] = {}
        for i, batch in enumerate(prepared):
            with self._sync(last=i == len(prepared) - 1):
                self._backward(batch, local / total_rows, len(prepared), sums)
        lr = self.scheduler.get_last_lr()[0]
        extra = self._clip()
        self.optimizer.step()
        self.scheduler.step()
        self.gazer.weights_changed()
        self.step += 1
        keys = sorted(sums)
        metrics = {k: v / total_rows for k, v in zip(keys, _all_sum([sums[k] for k in keys], self.world))}
        seconds = time.perf_counter() - start
        clips = len(index) * self.world.size
        metrics.update(step=self.step, lr=lr, seconds=seconds, clips_per_s=clips / seconds, **extra)
        return metrics

    def _sync(self, last: bool):
        """Under DDP, all micro-batches but a step's last accumulate locally (`no_sync`): one all-reduce a step."""
        if last or not isinstance(self.module, DistributedDataParallel):
            return nullcontext()
        return self.module.no_sync()

    def _backward(self, batch: MicroBatch, normalizer: float, parts: int, sums: dict[str, float]) -> None:
        """The micro-batch's loss, its gradient (a 1/parts share of the step's) and its sums for the metrics."""
        out = self.method.loss(self, batch, normalizer)
        check(
            bool(torch.isfinite(out.loss)),
            f"the loss is not finite at step {self.step + 1} (the weights diverged): train with a lower --lr",
        )
        (out.loss / parts).backward()
        for k, v in out.terms.items():
            sums[k] = sums.get(k, 0.0) + float(v.detach().sum())
        sums["loss"] = sums.get("loss", 0.0) + float(out.loss.detach()) * batch.rows
        for k, v in batch.metrics.items():
            sums[k] = sums.get(k, 0.0) + v * batch.rows

    def _clip(self) -> dict[str, float]:
        """Clip the gradient's global norm to `grad_clip` (after the all-reduce: the same on every process)."""
        if self.settings.grad_clip is None:
            return {}
        norm = torch.nn.utils.clip_grad_norm_(self.gazer.net.parameters(), self.settings.grad_clip)
        return {"grad_norm": float(norm)}  # before clipping

    # ---- checkpoints ------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.generator.set_state(state["generator"])


# ---- the run --------------------------------------------------------------------------------


def train_gazer(
    settings: TrainSettings | None = None,
    resume: str | Path | None = None,
    on_step: Callable[[dict[str, float]], None] | None = None,
    **knobs,
) -> Path:
    """Train a gazer (NTP or GRPO) into a run folder; returns its last checkpoint.

    Args:
        settings: the run's knobs (or pass them as keywords: `train_gazer(method="ntp", ...)`).
        resume: a run folder to continue exactly from its last complete checkpoint (its run.json
            gives the settings; `steps` may be raised).
        on_step: called with each step's metrics (rank 0).

    Returns:
        The last checkpoint folder (`RUN/checkpoint-N`), which `load_gazer` loads.
    """
    if resume is not None:
        run = Path(resume)
        saved = rf.read_run_settings(run)
        saved.update({k: v for k, v in knobs.items() if k in ("steps", "progress", "device", "command")})
        settings = TrainSettings(**saved)
    else:
        settings = settings or TrainSettings(**knobs)
    settings = settings.resolved()
    world = join_world(settings.device)
    try:
        with input_limits(**NO_LIMITS):  # its batches (clips x group x clip_len frames) are bounded by the settings
            return _run(settings, world, resume is not None, on_step)
    finally:
        if world.size > 1 and dist.is_initialized():
            dist.destroy_process_group()


def _run(settings: TrainSettings, world: World, resuming: bool, on_step) -> Path:
    run = Path(settings.out)
    if not resuming:
        check(
            not rf.checkpoints(run),
            f"{run} already holds a run: pass --resume {run} to continue it, or choose another --out",
        )
    # Everything that can be refused is checked before the run folder is touched.
    clips, labels = METHODS[settings.method].data(settings)
    per_process = math.ceil(len(clips) / world.size)
    if settings.batch_size > per_process:  # a bigger micro-batch would only repeat clips
        if world.main:
            print(
                f"note: --batch-size {settings.batch_size} is more than the {per_process} clips of a process; "
                f"using {per_process}",
                file=sys.stderr,
            )
        settings = dataclasses.replace(settings, batch_size=per_process)
    checkpoint = rf.latest_checkpoint(run) if resuming else None
    init = dataclasses.replace(settings, init=str(checkpoint)) if resuming else settings
    trainer = Trainer(settings, world, build_gazer(init, world.device), clips, labels)
    trainer.method.start(trainer)
    if resuming:
        trainer.load_state(rf.read_trainer_state(checkpoint))
        if world.main:
            rf.rewrite_metrics(run, rf.read_metrics(run, up_to=trainer.step))
        return _loop(trainer, run, on_step)
    created = not run.exists()
    if world.main:
        run.mkdir(parents=True, exist_ok=True)
        rf.write_run_settings(run, dataclasses.asdict(settings))
    try:
        return _loop(trainer, run, on_step)
    except BaseException:
        if world.main and not rf.checkpoints(run):  # failed before its first checkpoint: leave nothing
            rf.remove_run(run, created)
        raise


def _loop(trainer: Trainer, run: Path, on_step) -> Path:
    s, world = trainer.settings, trainer.world
    found = rf.checkpoints(run)
    last = found[-1][1] if found else None
    bar = tqdm(
        total=s.steps,
        initial=trainer.step,
        desc=f"{s.method}",
        unit="step",
        disable=not (s.progress and world.main),
        file=sys.stderr,
    )
    try:
        while trainer.step < s.steps:
            metrics = trainer.train_step()
            if world.main:
                rf.append_metrics(run, metrics)
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['loss']:.4f}", clips_s=f"{metrics['clips_per_s']:.1f}")
                if on_step is not None:
                    on_step(metrics)
            if trainer.step == s.steps or (s.save_every and trainer.step % s.save_every == 0):
                last = _save(trainer, run)
    finally:
        bar.close()
    return last


def _save(trainer: Trainer, run: Path) -> Path:
    """Write checkpoint-N (rank 0), the curves and the run card; drop older unkept checkpoints."""
    s, world = trainer.settings, trainer.world
    folder = run / f"checkpoint-{trainer.step}"
    if world.main:
        rf.save_gazer(trainer.gazer, folder, extra=trainer.state())
        rows = rf.read_metrics(run)
        rf.write_curves(run, rows, f"{s.method.upper()} run {run.name}")
        rf.write_training_card(run, dataclasses.asdict(s), rows, len(trainer.clips))
        for step, path in rf.checkpoints(run)[:-1]:
            if not (s.save_every and step % s.save_every == 0):
                shutil.rmtree(path, ignore_errors=True)
    if world.size > 1:
        dist.barrier()
    return folder
