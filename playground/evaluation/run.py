"""One evaluation run: conditions, the per-question work, resume, data-parallel rank shares and Ray.

`run_eval(questions, out, settings)` answers every question not yet done in `out` under every
condition, appends one record a question to the record file (`records.py`), then merges the
record files and writes the report (`report.py`). The same command resumes an interrupted run.

Conditions (`parse_conditions`): `full` (the stock path, every patch) and one or more gazed ones,
all on the same sampled frames of a question: `gazed` (the run's --gazer, --ratio, --threshold),
`gazed@R` (that gazer at gazing ratio R) or `NAME` / `NAME@R` (another gazer), and the post-ViT
pruning ones (`mllm/pruning.py`): `evs`, `drop-uniform`, `drop-random`, each on every patch with the
LLM's vision tokens cut after the ViT to the LLM vision tokens a gazed condition gave the same
question (`evs` reads the `gazed` condition's, else the first gazed one's; `evs:NAME` names it).
`answer_conditions` answers one clip under every condition (CLI `ask` and the app's Ask tab). A
gazed condition pays for its gazer: the gazer runs on its own first, timed; its seconds are a stage of the answer
and are in its total, and its FLOPs are counted in a second,
untimed pass (`EvalSettings.gazer_flops`, `GazedMLLM.gazer_flops`: AutoGaze analytic from its config,
a training-free gazer's element operations measured), because counting slows it.

A record (one JSON object) holds `question_id`, `video`, `answer` (the correct letter),
`num_options`, `groups`, `row`, `rank`, `read_seconds` (decoding the frames, shared by the
conditions), `frames`, `fps`, `error` (None, or why the question could not be answered: then
`conditions` is empty) and `conditions`: name -> `output` (the text), `letter` (None: unparsed),
`correct`, `tokens` (vision, llm_vision, llm_prompt, new, llm), `kept_fraction` (gazed),
`flops` (analytic per stage; `gazer` as `GazedMLLM.gazer_flops` counts it), `measured_flops` (with count_flops), `seconds`
(wall per stage, `gazer` included in `total`).

Scale: under `torchrun` or `accelerate launch` (RANK / WORLD_SIZE / LOCAL_RANK in the environment)
each process takes every WORLD_SIZE-th question of the file (`join_ranks`), writes its own record
file, and waits at a gloo barrier; rank 0 merges and reports. With `ray_address`, the questions are
answered by a pool of Ray actors (`dataset.engines.start_ray` / `map_actors`), each with its own
model, and the records stream back to this process, which writes them.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from .. import __version__, knobs
from ..device import resolve_device
from ..errors import PlaygroundError, check
from ..knobs import DEFAULT_RATIO, MAX_NEW_TOKENS  # the gazed condition's default cap; the answers' length
from ..mllm.flops import StageCounter
from ..mllm.pruning import PRUNING_METHODS
from ..video import read_clip
from .questions import Question
from .records import RECORDS, RecordWriter, check_run, done_ids, merge_records, records_path, write_run
from .scoring import Score, build_prompt, score

BARRIER_TIMEOUT = timedelta(hours=24)  # the slowest rank may finish this long after the fastest


# ---- conditions ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One way of answering: the stock path, or a gazer at a budget."""

    name: str  # its label in records and reports ('full', 'gazed', 'gazed@0.3', 'random@0.1')
    gazer: str | None = None  # None: the stock path on every patch; else a gazer name, hub id or folder
    gazing_ratio: float | None = None  # cap on slots per frame (fraction of the model's gaze grid)
    threshold: float | None = None  # error threshold; None = off
    attention: str = "block_causal"  # the gazed encoder's attention mode
    pruning: str | None = None  # post-ViT pruning method (`pruning.PRUNING_METHODS`); None: none
    budget_from: str | None = None  # with pruning: the gazed condition whose LLM vision tokens are the budget

    @property
    def gazed(self) -> bool:
        return self.gazer is not None

    @property
    def order(self) -> int:
        """full, then gazed, then post-ViT pruned (which read a gazed condition's tokens)."""
        return 2 if self.pruning else int(self.gazed)

    def meaning(self) -> dict[str, Any]:
        """What run.json keeps of it (the pruning fields only when set, so older folders still resume)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k not in ("pruning", "budget_from")}


def parse_conditions(
    text: str,
    gazer: str = "framediff",
    ratio: float | None = None,
    threshold: float | None = None,
    attention: str = "block_causal",
) -> list[Condition]:
    """The conditions of `--conditions` (comma-separated, see the module doc), `full` first when given."""
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    check(len(names) > 0, "--conditions is empty; give e.g. full,gazed")
    check(len(set(names)) == len(names), f"--conditions names a condition twice: {text}")
    threshold = knobs.threshold_or_off(threshold)
    conditions = []
    for name in names:
        if name == "full":
            conditions.append(Condition("full"))
            continue
        if name.partition(":")[0] in PRUNING_METHODS:
            conditions.append(Condition(name, pruning=name.partition(":")[0], budget_from=name.partition(":")[2]))
            continue
        base, _, at = name.partition("@")
        cap = knobs.gazing_ratio(at, f"the ratio of condition {name!r}") if at else ratio
        if cap is None and threshold is None:
            cap = DEFAULT_RATIO
        check(base.strip() != "", f"condition {name!r} names no gazer")
        conditions.append(Condition(name, gazer if base == "gazed" else base, cap, threshold, attention))
    return sorted(_budgets(conditions), key=lambda c: c.order)


def _budgets(conditions: list[Condition]) -> list[Condition]:
    """The pruned conditions with their budget's gazed condition named (one line when there is none)."""
    gazed = [c.name for c in conditions if c.gazed]
    out = []
    for c in conditions:
        if c.pruning:
            source = c.budget_from or ("gazed" if "gazed" in gazed else gazed[0] if gazed else "")
            check(
                source in gazed,
                f"condition {c.name!r} prunes to a gazed condition's LLM tokens: "
                + (
                    f"{source!r} is not one of the gazed conditions ({', '.join(gazed)})"
                    if gazed
                    else "add one, e.g. full,gazed," + c.name
                ),
            )
            c = Condition(c.name, pruning=c.pruning, budget_from=source)
        out.append(c)
    return out


def answer_conditions(
    mllm,
    conditions: Sequence[Condition],
    frames,
    question: str,
    *,
    single_scale: bool = False,
    gazer_for: Callable[[str], Any] | None = None,
    on_condition: Callable[[int, Condition], None] | None = None,
    **common,
) -> dict[str, Any]:
    """Each condition's `Answer` to `question` on the same frames (T, H, W, 3), by name, in the conditions' order
    (`parse_conditions`: full, gazed, then the pruned ones, each keeping its gazed condition's LLM vision tokens):
    CLI `ask`'s and the app's Ask tab's one path. A gazed condition runs its gazer inside its answer, timed as the
    'gazer' stage.

    gazer_for: a gazer name -> what `answer` is handed (the app's cached checkpoints); default the name itself.
    on_condition(i, c): called before condition i is answered (progress). common: `answer`'s other keywords.
    """
    answers: dict[str, Any] = {}
    for i, c in enumerate(conditions):
        if on_condition is not None:
            on_condition(i, c)
        if c.pruning:
            answers[c.name] = mllm.answer(
                frames, question, pruning=c.pruning, budget=answers[c.budget_from].llm_vision_tokens, **common
            )
        elif c.gazed:
            answers[c.name] = mllm.answer(
                frames,
                question,
                gazer=gazer_for(c.gazer) if gazer_for else c.gazer,
                gazing_ratio=c.gazing_ratio,
                task_loss_requirement=c.threshold,
                attention=c.attention,
                single_scale=single_scale,
                **common,
            )
        else:
            answers[c.name] = mllm.answer(frames, question, **common)
    return answers


# ---- settings ----------------------------------------------------------------------------------


@dataclass
class EvalSettings:
    """What a run answers with (what `run.json` keeps, so a resume cannot change it)."""

    mllm: str  # the model: an alias, a hub id, a folder or a built-in tiny-random-* model
    conditions: list[Condition]  # full and the gazed ones (`parse_conditions`)
    frames: int = knobs.NUM_FRAMES  # frames sampled uniformly over each video, the same for every condition
    max_new_tokens: int = MAX_NEW_TOKENS  # greedy decoding length cap
    count_flops: bool = False  # also measure every MLLM stage with FlopCounterMode (slows the stages a little)
    gazer_flops: bool = True  # count the gazer's FLOPs in a second, untimed pass (off: gazer FLOPs unknown)
    device: str | None = None  # cpu | cuda | cuda:N; None: $PLAYGROUND_DEVICE, else auto
    trust_remote_code: bool = False  # allow a model repository's own code (needed by no supported family)

    def meaning(self) -> dict[str, Any]:
        """The settings the records depend on (a resumed run must keep them)."""
        return {
            "mllm": self.mllm,
            "conditions": [c.meaning() for c in self.conditions],
            "frames": self.frames,
            "max_new_tokens": self.max_new_tokens,
        }


@dataclass
class RankShare:
    """This process's share of the questions: every `size`-th one from `rank`."""

    rank: int = 0  # RANK under torchrun / accelerate launch
    size: int = 1  # WORLD_SIZE: processes sharing the questions
    device: str | None = None  # this process's device (cuda:LOCAL_RANK when launched on GPUs)
    joined: bool = False  # whether this process joined a process group (for the final barrier)

    @property
    def main(self) -> bool:
        return self.rank == 0


def join_ranks(device: str | None = None) -> RankShare:
    """This process's share from torchrun's environment (as `training.trainer.join_world` reads it).

    One process without WORLD_SIZE. Under a launcher, rank r takes cuda:LOCAL_RANK when CUDA is
    the device and joins a gloo process group, used only for the barrier before rank 0 merges.
    """
    size = _env_int("WORLD_SIZE", 1)
    if size <= 1:
        return RankShare(device=device)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    chosen = resolve_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local)
        torch.cuda.set_device(chosen)
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=BARRIER_TIMEOUT)
    return RankShare(rank, size, str(chosen), joined=True)


def _env_int(name: str, default: int) -> int:
    text = os.environ.get(name, "").strip()
    check(text == "" or text.isdigit(), f"${name} must be a whole number, got {text!r}")
    return int(text) if text else default


# ---- the per-question work -----------------------------------------------------------------------


class Answerer:
    """One loaded MLLM (and its gazers) answering questions under every condition: a record each."""

    def __init__(self, settings: EvalSettings, device: str | None = None):
        from ..mllm import load_mllm  # lazy: transformers is slow to import
        from ..mllm.model import GazedMLLM

        self.settings = settings
        self.mllm = load_mllm(
            settings.mllm, device=device or settings.device, trust_remote_code=settings.trust_remote_code
        )
        check(
            isinstance(self.mllm, GazedMLLM),
            f"{settings.mllm} gazes inside its own code (NVILA): eval compares "
            "a model's stock and gazed paths, which it does not have",
        )
        for c in settings.conditions:  # loaded now: a bad name fails in one line, and loading is in no timing
            if c.gazed:
                self.mllm.gazer(c.gazer, self.mllm.grid)

    def answer(self, question: Question, rank: int = 0) -> dict[str, Any]:
        """The record of one question (see the module doc): an error record when its video cannot be read."""
        record = base_record(question, rank)
        started = time.perf_counter()
        try:
            frames, fps, _ = read_clip(question.video, num_frames=self.settings.frames)
        except PlaygroundError as exc:
            return {**record, "error": str(exc)}
        record.update(read_seconds=time.perf_counter() - started, frames=int(frames.shape[0]), fps=fps)
        prompt = build_prompt(question)
        done = record["conditions"] = {}
        for c in self.settings.conditions:  # in order: a pruned condition reads its gazed condition's tokens
            budget = done[c.budget_from]["tokens"]["llm_vision"] if c.pruning else None
            done[c.name] = self.condition(c, frames, fps, prompt, question.answer, budget)
        return record

    def condition(
        self, c: Condition, frames, fps: float, prompt: str, answer: str, budget: int | None = None
    ) -> dict[str, Any]:
        """One condition's answer on the question's frames: text, letter, tokens, FLOPs, seconds (a pruned
        condition keeps `budget` LLM vision tokens)."""
        gaze, gazer_seconds, gazer_flops = None, None, None
        if c.gazed:
            timed = StageCounter(self.mllm.device, False)
            with timed:
                gaze = self.mllm.gaze(frames, c.gazer, c.gazing_ratio, c.threshold)
            gazer_seconds = timed.seconds
            gazer_flops = self._gazer_flops(c, frames, gaze)
        a = self.mllm.answer(
            frames,
            prompt,
            gaze=gaze,
            attention=c.attention,
            max_new_tokens=self.settings.max_new_tokens,
            fps=fps,
            count_flops=self.settings.count_flops,
            pruning=c.pruning,
            budget=budget,
        )
        return condition_record(a, score(a.text, answer), gazer_seconds, gazer_flops)

    def _gazer_flops(self, c: Condition, frames, gaze) -> int | None:
        """The gazer's FLOPs on these frames, as `GazedMLLM.gazer_flops` counts them for every answer
        (AutoGaze analytic; a training-free gazer measured in an untimed pass); None when switched off."""
        if not self.settings.gazer_flops:
            return None
        return self.mllm.gazer_flops(frames, c.gazer, gaze, c.gazing_ratio, c.threshold)[0]


def condition_record(a, read: Score, gazer_seconds: float | None, gazer_flops: int | None) -> dict[str, Any]:
    """One condition's part of a record from its `Answer`, its score and its gazer's cost (in the totals)."""
    seconds = {**a.seconds, "gazer": gazer_seconds, "total": a.seconds["total"] + (gazer_seconds or 0.0)}
    flops = {**a.flops, "gazer": gazer_flops, "total": a.flops["total"] + (gazer_flops or 0)}
    measured = None
    if a.measured_flops is not None:
        measured = {
            **a.measured_flops,
            "gazer": gazer_flops,
            "total": (a.measured_flops["total"] or 0) + (gazer_flops or 0),
        }
    return {
        "output": a.text,
        "letter": read.letter,
        "correct": read.correct,
        "tokens": {
            "vision": a.vision_tokens,
            "llm_vision": a.llm_vision_tokens,
            "llm_prompt": a.llm_prompt_tokens,
            "new": a.new_tokens,
            "llm": a.llm_tokens,
        },
        "kept_fraction": a.settings.get("kept_fraction"),
        "flops": flops,
        "measured_flops": measured,
        "seconds": seconds,
    }


def base_record(question: Question, rank: int = 0) -> dict[str, Any]:
    """What every record of a question holds, answered or not."""
    return {
        "question_id": question.question_id,
        "video": question.video,
        "answer": question.answer,
        "num_options": question.num_options,
        "groups": dict(question.groups),
        "row": question.row,
        "rank": rank,
        "error": None,
        "conditions": {},
    }


# ---- the run -------------------------------------------------------------------------------------


@dataclass
class EvalRun:
    """What a run did (the CLI's last line) and where its files are."""

    out: Path  # the evaluation folder
    questions: int  # questions in the set (after --limit)
    mine: int  # of them, this process's share
    skipped: int  # of those, already done before this run
    answered: int  # records this process wrote (errors included)
    errors: int  # of them, error records
    seconds: float = 0.0  # wall time of this process's run
    summary: dict[str, Any] | None = None  # summary.json's content (the main process, when all is merged)
    note: str | None = None  # a caveat of the model (random weights)
    extra: dict[str, Any] = field(default_factory=dict)  # how the run was made (engine, world size)


def run_eval(
    questions: Sequence[Question],
    out: str | Path,
    settings: EvalSettings,
    fmt: str = "",
    source: str = "",
    share: RankShare | None = None,
    ray_address: str | None = None,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> EvalRun:
    """Answer every question of this process's share not yet done in `out`; merge and report on the main one.

    Args:
        questions: the question set (`questions.read_questions`), in its file's order.
        out: the evaluation folder (created if needed; the CLI checks that it is writable first).
        settings: the model, the conditions and the decoding.
        fmt, source: the set's format and file, for run.json and the report.
        share: this process's questions (default: `join_ranks(settings.device)`, from the environment).
        ray_address: None: answer here; "" a local Ray; else the Ray cluster to join.
        workers: Ray actors (each loads its own model).
        progress: called as `progress(done, total)` after each question of this run.
    """
    started = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    share = share or join_ranks(settings.device)
    check(
        ray_address is None or share.size == 1,
        "--ray runs the questions on Ray's workers: start it as one process, not under torchrun",
    )
    check_run(out, settings.meaning())
    mine = list(questions)[share.rank :: share.size]  # from the whole set, so every rank cuts the same way
    done = done_ids(out)
    todo = [q for q in mine if q.question_id not in done]
    extra = {"engine": "ray" if ray_address is not None else "local", "world_size": share.size, "workers": workers}
    run = EvalRun(out, len(questions), len(mine), len(mine) - len(todo), 0, 0, extra=extra)
    records = _records(todo, settings, share, ray_address, workers)  # loading fails here, before any write
    if share.main:
        write_run(
            out,
            settings.meaning(),
            {
                "questions": source,
                "question_format": fmt,
                "count": len(questions),
                "run": extra,
                "playground": __version__,
            },
        )
    writer = RecordWriter(records_path(out, share.rank, share.size))
    try:
        for record in records:
            writer.write(record)
            run.answered += 1
            run.errors += bool(record["error"])
            if progress is not None:
                progress(run.answered, len(todo))
    finally:
        writer.close()
    _wait_for_ranks(share)
    if share.main:
        from .report import write_report  # plotly is imported only to report

        merged = merge_records(out, [q.question_id for q in questions])
        run.summary = write_report(out, merged, settings, len(questions), fmt, source)
    run.seconds = time.perf_counter() - started
    return run


def _records(
    todo: Sequence[Question], settings: EvalSettings, share: RankShare, ray_address: str | None, workers: int
) -> Iterator[dict[str, Any]]:
    """The records of `todo`, answered here or on Ray (nothing is loaded when all is done)."""
    if not todo:
        return iter(())
    if ray_address is not None:
        return ray_records(todo, settings, workers, ray_address)
    answerer = Answerer(settings, share.device)
    return (answerer.answer(q, share.rank) for q in todo)


def _wait_for_ranks(share: RankShare) -> None:
    """Under a launcher: every rank waits here until all have written their records."""
    if not share.joined:
        return
    import torch.distributed as dist

    dist.barrier()
    dist.destroy_process_group()  # rank 0 merges the files alone


# ---- Ray -----------------------------------------------------------------------------------------


def ray_records(
    todo: Sequence[Question], settings: EvalSettings, workers: int, address: str = ""
) -> Iterator[dict[str, Any]]:
    """The records of `todo` from a pool of `workers` Ray actors, in the order they finish."""
    from ..dataset.engines import import_ray, map_actors, start_ray

    import_ray()  # one line when Ray is missing, before anything starts
    check_model_found(settings.mllm)
    ray, gpus = start_ray(address)
    items = ray.data.from_items(
        [{"question": json.dumps(asdict(q))} for q in todo], override_num_blocks=max(1, min(len(todo), 200))
    )
    answered = map_actors(items, _AnswerStage, (settings,), workers, gpus)
    return (json.loads(row["record"]) for row in answered.iter_rows())


def check_model_found(name: str) -> None:
    """Fail in one line when the MLLM is neither built in, a folder, nor in the Hugging Face cache (without
    loading it here: on Ray the actors load it)."""
    from ..mllm import ALIASES, TINY_RANDOM_MLLMS, _folder

    key = ALIASES.get(name.strip().lower(), name.strip())
    if key.lower() not in TINY_RANDOM_MLLMS:
        _folder(key)


class _AnswerStage:
    """Ray `map_batches` actor: one model, loaded once; answers one question a call."""

    def __init__(self, settings: EvalSettings):
        if not torch.cuda.is_available():
            torch.set_num_threads(1)  # CPU actors share the cores
        self.answerer = Answerer(settings)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[str]]:
        questions = [Question(**json.loads(str(q))) for q in batch["question"]]
        return {"record": [json.dumps(self.answerer.answer(q)) for q in questions]}


__all__ = [
    "Condition",
    "EvalSettings",
    "RankShare",
    "Answerer",
    "EvalRun",
    "run_eval",
    "parse_conditions",
    "join_ranks",
    "RECORDS",
]
