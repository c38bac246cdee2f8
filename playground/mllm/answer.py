"""`Answer`: what one MLLM call returns, and the gazed-vs-full comparison table.

Stages, in order: `gazer` (picking patches; only when the call ran the gazer), `preprocess`
(resize and normalise frames), `vision_encoder` (patch embedding + encoder layers; its attention
products are also reported alone as `vision_attention`), `connector`, `prune` (post-ViT pruning
only: choosing the LLM tokens to keep), `llm_prefill` (the prompt and the first new token) and
`llm_decode` (every later token).
"""

from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from ..errors import check
from ..knobs import MAX_ANSWER_TOKENS  # generated tokens

FLOP_ROWS = ("gazer", "vision_encoder", "vision_attention", "connector", "llm_prefill", "llm_decode")
# How the tables (CLI `ask`, the app) name the FLOP rows: vision_attention is part of vision_encoder, so it is
# an indented sub-row, and the total adds the stages once (the gazer included, the attention not twice).
FLOP_LABELS = {
    "gazer": "GFLOPs gazer",
    "vision_encoder": "GFLOPs vision_encoder",
    "vision_attention": "  └ of which attention (inside vision_encoder)",
    "connector": "GFLOPs connector",
    "llm_prefill": "GFLOPs llm_prefill",
    "llm_decode": "GFLOPs llm_decode",
    "total": "GFLOPs total (gazer + stages)",
}
ATTENTION_NOTE = (
    "Gazed encoder attention: **block_causal** (default, as AutoGaze's encoders): all frames' gazed "
    "tokens in one sequence, a token sees its own frame and earlier ones; **frame_independent**: a "
    "token sees its own frame only (like the stock per-frame encoder, cheapest); **bidirectional**: "
    "one sequence, every token sees every frame. The full answer always uses the model's own "
    "per-frame encoder."
)
TIME_ROWS = ("gazer", "preprocess", "vision_encoder", "connector", "prune", "llm_prefill", "llm_decode")
# What one request may ask (the API, CLI, app and eval share these): a long answer or question costs
# minutes of generation or prefill, and none that a video question needs is near them.
MAX_QUESTION_CHARS = 20_000  # characters of the question text (checked before it is tokenized)
MAX_QUESTION_TOKENS = 4096  # tokens of the question text


def check_request(question: Any, max_new_tokens: Any, tokenizer=None) -> None:
    """One line for a question or answer length an MLLM call must not take (before the model sees them)."""
    check(isinstance(question, str) and question.strip() != "", "the question is empty")
    check(
        len(question) <= MAX_QUESTION_CHARS,
        f"the question is {len(question):,} characters long; at most {MAX_QUESTION_CHARS:,} are taken",
    )
    check(
        isinstance(max_new_tokens, int)
        and not isinstance(max_new_tokens, bool)
        and 1 <= max_new_tokens <= MAX_ANSWER_TOKENS,
        f"max_new_tokens must be a whole number from 1 to {MAX_ANSWER_TOKENS}, got {max_new_tokens!r}",
    )
    if tokenizer is not None:
        count = len(tokenizer(question, add_special_tokens=False)["input_ids"])
        check(
            count <= MAX_QUESTION_TOKENS,
            f"the question is {count:,} tokens long; at most {MAX_QUESTION_TOKENS:,} are taken",
        )


@dataclass
class Answer:
    """One answer of a video MLLM, with its token counts, FLOPs and wall time per stage. T = frames."""

    text: str  # the generated answer, special tokens removed
    path: str  # 'full' (stock, every patch), 'gazed', or 'pruned' (every patch, LLM tokens pruned after the ViT)
    model: str  # the model's name or path
    attention: str  # encoder attention of the gazed path ('stock' on the full path)
    vision_tokens: int  # patches that went through the vision encoder layers
    vision_tokens_per_frame: list[int]  # (T,) of them per frame
    llm_vision_tokens: int  # vision tokens spliced into the prompt
    llm_vision_tokens_per_frame: list[int]  # (T,) of them per frame (LLaVA-OV adds 1 newline after the video)
    llm_prompt_tokens: int  # prompt length fed to the LLM prefill, text included
    new_tokens: int  # tokens generated
    flops: dict[str, float | None]  # analytic FLOPs per stage (FLOP_ROWS + 'total'); None = unknown
    seconds: dict[str, float]  # wall time per stage (TIME_ROWS + 'total')
    cpu_seconds: dict[str, float | None] = field(default_factory=dict)  # process CPU time per stage (all threads)
    measured_flops: dict[str, float | None] | None = None  # FlopCounterMode per stage, when counted
    settings: dict[str, Any] = field(default_factory=dict)  # gazer, ratio, threshold, grid, frames, ...

    @property
    def llm_tokens(self) -> int:
        """Tokens the LLM processed: the prompt and the generated ones."""
        return self.llm_prompt_tokens + self.new_tokens

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def best_flops(self, stage: str) -> float | None:
        """Measured FLOPs of a stage when counted, else analytic."""
        if self.measured_flops is not None and self.measured_flops.get(stage) is not None:
            return self.measured_flops[stage]
        return self.flops.get(stage)


def display_text(text: str, random_weights: bool = False) -> str:
    """An answer as shown (CLI `ask`, the app, eval's report): control characters escaped (\\x07, \\u200b),
    replacement characters (from bytes that are not UTF-8) shown as \\ufffd, and random weights' answers
    labelled, so that noise does not look like an encoding bug. Newlines and tabs stay."""
    out = []
    for ch in str(text):
        code = ord(ch)
        if ch in "\n\t":
            out.append(ch)
        elif code == 0xFFFD or unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn"):
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
        else:
            out.append(ch)
    shown = "".join(out)
    return f"[{RANDOM_WEIGHTS_LABEL}] {shown}" if random_weights else shown


RANDOM_WEIGHTS_LABEL = "random weights, not a real answer"


def token_note(full: Answer, gazed: Answer) -> str:
    """Why the encoder's tokens fall more than the LLM's (the connector's merge groups), in numbers."""
    enc = full.vision_tokens / max(gazed.vision_tokens, 1)
    llm = full.llm_vision_tokens / max(gazed.llm_vision_tokens, 1)
    merge = gazed.settings.get("token_merge") or "the connector turns encoder patches into LLM tokens"
    return (
        f"Encoder tokens {full.vision_tokens:,} → {gazed.vision_tokens:,} ({enc:.1f}x fewer), LLM vision tokens "
        f"{full.llm_vision_tokens:,} → {gazed.llm_vision_tokens:,} ({llm:.1f}x fewer): {merge}."
    )


def _gflops(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e9:,.2f}"


def _sec(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def comparison_rows(answers: Sequence[Answer]) -> list[tuple[str, str, list[Any]]]:
    """The comparison's rows, one value per answer (None: unknown), as (label, kind, values); kind is 'tokens',
    'count', 'flops' (FLOPs: measured where the answer was counted, else analytic), 'source' or 'seconds' (wall).
    CLI `ask`'s table and the app's Ask tab both read these, so they show the same numbers."""
    rows: list[tuple[str, str, list[Any]]] = [
        ("vision tokens (encoder)", "tokens", [a.vision_tokens for a in answers]),
        ("LLM vision tokens", "tokens", [a.llm_vision_tokens for a in answers]),
        ("LLM prompt tokens", "tokens", [a.llm_prompt_tokens for a in answers]),
        ("new tokens", "count", [a.new_tokens for a in answers]),
    ]
    rows += [(FLOP_LABELS[stage], "flops", [a.best_flops(stage) for a in answers]) for stage in (*FLOP_ROWS, "total")]
    rows.append(
        ("FLOPs source", "source", ["measured" if a.measured_flops is not None else "analytic" for a in answers])
    )
    rows.append(("gazer FLOPs source", "source", [gazer_flops_source(a) for a in answers]))
    rows += [
        (f"seconds {stage}", "seconds", [a.seconds.get(stage) for a in answers]) for stage in (*TIME_ROWS, "total")
    ]
    return rows


_TEXT = {"tokens": lambda v: f"{v:,}", "count": str, "flops": _gflops, "source": str, "seconds": _sec}


def comparison_table(answers: Sequence[Answer], labels: Sequence[str] | None = None) -> str:
    """A plain-text table of `comparison_rows`: tokens, GFLOPs and seconds per stage, one column per answer."""
    labels = list(labels or [answer_label(a) for a in answers])
    rows = [(name, [_TEXT[kind](v) for v in values]) for name, kind, values in comparison_rows(answers)]
    width0 = max(len(r[0]) for r in rows)
    widths = [max(len(labels[i]), *(len(r[1][i]) for r in rows)) for i in range(len(answers))]
    lines = ["  ".join([" " * width0] + [labels[i].rjust(widths[i]) for i in range(len(answers))])]
    for name, cells in rows:
        lines.append("  ".join([name.ljust(width0)] + [c.rjust(widths[i]) for i, c in enumerate(cells)]))
    return "\n".join(lines)


def answer_label(answer: Answer) -> str:
    """A column's default label: 'full', 'gazed (attention)' or the post-ViT pruning method ('evs')."""
    if answer.path == "pruned":
        return str(answer.settings.get("pruning"))
    return answer.path if answer.path == "full" else f"gazed ({answer.attention})"


def gazer_flops_source(answer: Answer) -> str:
    """How the answer's gazer FLOPs were counted, in a word: analytic (AutoGaze), measured ops, or '-'."""
    how = answer.settings.get("gazer_flops") or ""
    return "analytic" if how.startswith("analytic") else "measured ops" if how.startswith("measured") else "-"


def attention_warning(full: Answer, gazed: Answer) -> str | None:
    """A one-line note when the gazed encoder's attention costs more than the stock one's, else None."""
    f, g = full.best_flops("vision_attention"), gazed.best_flops("vision_attention")
    if f is None or g is None or g <= f:
        return None
    return (
        f"note: {gazed.attention} attention over {gazed.vision_tokens:,} gazed tokens costs "
        f"{g / 1e9:,.2f} GFLOPs, more than the stock per-frame attention ({f / 1e9:,.2f} GFLOPs): "
        + (
            "a frame's gazed patches outnumber the stock frame's"
            if gazed.attention == "frame_independent"
            else "one sequence over all frames grows with N^2"
        )
    )
