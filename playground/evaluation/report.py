"""The report of an evaluation folder: summary.json, report.md (also printed) and report.html (plotly).

`summarize(records, conditions, ...)` computes, from the merged records:

- n: the questions in the set, those answered (in every condition), those that could not be
  (error records: left out of every accuracy, and listed);
- per condition: accuracy with its Wilson 95 % interval, the unparsed answers (counted wrong, and
  apart), per category (every group field the questions have: duration, domain, task_type,
  category) the same, and the mean tokens, FLOPs and seconds per question (per stage too);
- for every pair of conditions (in their order: full, gazed, post-ViT pruned): the paired table of
  flips (right->wrong, wrong->right), the accuracy difference with its 95 % interval, McNemar's
  exact p-value, and whether the difference is within noise (p >= 0.05);
- for every post-ViT pruned condition against the gazed condition whose LLM tokens it kept (the
  same LLM tokens, so only the vision side differs): what gazing before the ViT saved there
  (seconds and FLOPs of preprocessing, encoder, connector and pruning), what the gazer cost, and
  the break-even: gazing pays off when the gazer costs less than the saving.

`write_report(out, records, settings, ...)` writes the three files (each whole, then renamed).
"""

from __future__ import annotations

import html
from itertools import combinations
from pathlib import Path
from typing import Any, Sequence

from ..jsonio import atomic_write, write_json
from .stats import mcnemar_exact, paired_difference, wilson_interval, within_noise

SUMMARY, REPORT_MD, REPORT_HTML = "summary.json", "report.md", "report.html"
TOKEN_KEYS = ("vision", "llm_vision", "llm_prompt", "new", "llm")
STAGES = ("gazer", "preprocess", "vision_encoder", "connector", "prune", "llm_prefill", "llm_decode", "total")
VISION_SIDE = ("preprocess", "vision_encoder", "connector", "prune")  # what gazing before the ViT changes


# ---- numbers -------------------------------------------------------------------------------


def summarize(
    records: Sequence[dict[str, Any]],
    conditions: Sequence[str],
    questions: int | None = None,
    meta: dict[str, Any] | None = None,
    budget_from: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The report's numbers (see the module doc) from the merged records of a run; `budget_from` maps each
    post-ViT pruned condition to the gazed condition whose LLM tokens it kept."""
    answered = [r for r in records if not r.get("error") and all(c in r["conditions"] for c in conditions)]
    errors = [
        {"question_id": r["question_id"], "video": r["video"], "error": r["error"]} for r in records if r.get("error")
    ]
    groups = sorted({g for r in answered for g in r["groups"]})
    per_condition = {c: _condition_summary(answered, c, groups) for c in conditions}
    paired = [_paired(answered, a, b) for a, b in combinations(conditions, 2)]
    break_even = [_break_even(per_condition[g], per_condition[c], g, c) for c, g in (budget_from or {}).items()]
    return {
        "n": {
            "questions": questions if questions is not None else len(records),
            "answered": len(answered),
            "errors": len(errors),
            "not_yet_answered": (questions or len(records)) - len(records),
        },
        "conditions": per_condition,
        "paired": paired,
        "break_even": break_even,
        "errors": errors,
        **(meta or {}),
    }


def _break_even(gazed: dict[str, Any], pruned: dict[str, Any], gazed_name: str, pruned_name: str) -> dict[str, Any]:
    """Gazing before the ViT against pruning after it at the same LLM tokens: per question (means), the vision
    side's saving, the gazer's cost, and their difference (> 0: gazing pays off), in seconds and in FLOPs."""
    out = {"gazed": gazed_name, "pruned": pruned_name}
    for unit, key in (("seconds", "mean_seconds"), ("flops", "mean_flops")):
        vision = [sum(c[key].get(s) or 0.0 for s in VISION_SIDE) for c in (pruned, gazed)]
        gazer = gazed[key].get("gazer")
        saved = vision[0] - vision[1]
        out[unit] = {
            "saved": saved,
            "gazer": gazer,
            "net": None if gazer is None else saved - gazer,
            "pays_off": None if gazer is None else saved > gazer,
        }
    return out


def _accuracy(flags: Sequence[bool]) -> dict[str, Any]:
    k, n = int(sum(flags)), len(flags)
    low, high = wilson_interval(k, n)
    return {"n": n, "correct": k, "accuracy": k / n if n else None, "ci95": [low, high]}


def _condition_summary(answered: Sequence[dict[str, Any]], name: str, groups: Sequence[str]) -> dict[str, Any]:
    rows = [r["conditions"][name] for r in answered]
    out = _accuracy([row["correct"] for row in rows])
    unparsed = sum(row["letter"] is None for row in rows)
    out.update(unparsed=unparsed, unparsed_rate=unparsed / len(rows) if rows else None)
    out["by_group"] = {
        g: {
            v: _accuracy([r["conditions"][name]["correct"] for r in answered if r["groups"].get(g) == v])
            for v in sorted({r["groups"][g] for r in answered if g in r["groups"]})
        }
        for g in groups
    }
    out["mean_tokens"] = {k: _mean([row["tokens"][k] for row in rows]) for k in TOKEN_KEYS}
    out["mean_flops"] = {s: _mean([row["flops"].get(s) for row in rows]) for s in STAGES if s != "preprocess"}
    out["mean_seconds"] = {s: _mean([row["seconds"].get(s) for row in rows]) for s in STAGES}
    out["gazer_flops_counted"] = all(row["flops"].get("gazer") is not None for row in rows) if rows else None
    out["mean_kept_fraction"] = _mean([row.get("kept_fraction") for row in rows])
    return out


def _mean(values: Sequence[float | None]) -> float | None:
    """The mean of the known values (None when there are none)."""
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _paired(answered: Sequence[dict[str, Any]], first: str, second: str) -> dict[str, Any]:
    """The flips from `first` to `second` on the questions both answered, with McNemar's exact test."""
    pairs = [(r["conditions"][first]["correct"], r["conditions"][second]["correct"]) for r in answered]
    both = sum(a and b for a, b in pairs)
    lost = sum(a and not b for a, b in pairs)  # right -> wrong
    gained = sum(b and not a for a, b in pairs)  # wrong -> right
    neither = len(pairs) - both - lost - gained
    diff, low, high = paired_difference(lost, gained, len(pairs))
    p = mcnemar_exact(lost, gained)
    return {
        "first": first,
        "second": second,
        "n": len(pairs),
        "both_right": both,
        "right_to_wrong": lost,
        "wrong_to_right": gained,
        "both_wrong": neither,
        "difference": diff,
        "ci95": [low, high],
        "mcnemar_p": p,
        "within_noise": within_noise(p),
    }


# ---- text ----------------------------------------------------------------------------------


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None, scale: float = 1.0, digits: int = 2) -> str:
    return "-" if x is None else f"{x / scale:,.{digits}f}"


def report_text(summary: dict[str, Any]) -> str:
    """report.md: n, accuracy with intervals, unparsed, per category, the paired flips, and the costs."""
    n = summary["n"]
    names = list(summary["conditions"])
    lines = [f"# Evaluation: {summary.get('mllm', '')} on {summary.get('source') or 'the question set'}", ""]
    lines += [
        f"n = {n['answered']} questions answered in every condition, of {n['questions']} in the set"
        f" ({n['errors']} could not be answered, {n['not_yet_answered']} not yet answered)."
    ]
    if summary.get("note"):
        lines += ["", f"Note: {summary['note']}."]
    lines += [
        "",
        "## Accuracy (95 % Wilson intervals)",
        "",
        "| condition | correct | accuracy | 95 % interval | unparsed |",
        "|---|---|---|---|---|",
    ]
    for c in names:
        s = summary["conditions"][c]
        lines.append(
            f"| {c} | {s['correct']}/{s['n']} | {_pct(s['accuracy'])} | {_pct(s['ci95'][0])} to "
            f"{_pct(s['ci95'][1])} | {s['unparsed']} ({_pct(s['unparsed_rate'])}) |"
        )
    lines += _group_lines(summary, names)
    lines += _paired_lines(summary)
    lines += _cost_lines(summary, names)
    lines += _break_even_lines(summary)
    if summary["errors"]:
        lines += ["", "## Not answered", ""] + [f"- {e['question_id']}: {e['error']}" for e in summary["errors"]]
    return "\n".join(lines) + "\n"


def _group_lines(summary: dict[str, Any], names: Sequence[str]) -> list[str]:
    first = summary["conditions"][names[0]]["by_group"] if names else {}
    lines = []
    for group, values in first.items():
        lines += [
            "",
            f"## Accuracy by {group}",
            "",
            "| " + group + " | n | " + " | ".join(names) + " |",
            "|---|---|" + "---|" * len(names),
        ]
        for value, acc in values.items():
            cells = []
            for c in names:
                a = summary["conditions"][c]["by_group"][group][value]
                cells.append(f"{_pct(a['accuracy'])} ({_pct(a['ci95'][0])}-{_pct(a['ci95'][1])})")
            lines.append(f"| {value} | {acc['n']} | " + " | ".join(cells) + " |")
    return lines


def _break_even_lines(summary: dict[str, Any]) -> list[str]:
    if not summary.get("break_even"):
        return []
    lines = [
        "",
        "## Gazing before the ViT vs pruning after it (same LLM tokens)",
        "",
        "| gazed vs pruned | vision side saved (s) | gazer (s) | net (s) | vision side saved (GFLOPs) | "
        "gazer (GFLOPs) | net (GFLOPs) | gazing pays off (time / FLOPs) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    word = {True: "yes", False: "no", None: "-"}
    for b in summary["break_even"]:
        t, f = b["seconds"], b["flops"]
        lines.append(
            f"| {b['gazed']} vs {b['pruned']} | {_num(t['saved'], digits=3)} | {_num(t['gazer'], digits=3)} "
            f"| {_num(t['net'], digits=3)} | {_num(f['saved'], 1e9, 3)} | {_num(f['gazer'], 1e9, 3)} | "
            f"{_num(f['net'], 1e9, 3)} | {word[t['pays_off']]} / {word[f['pays_off']]} |"
        )
    lines += [
        "",
        "Both conditions feed the LLM the same number of vision tokens, so they differ on the vision side "
        "(preprocessing, encoder, connector, pruning) and by the gazer. The break-even is where the gazer "
        "costs as much as the vision side saves: gazing pays off when the net is positive. At few frames "
        "the encoder is cheap and the gazer's own time can exceed the saving.",
    ]
    return lines


def _paired_lines(summary: dict[str, Any]) -> list[str]:
    if not summary["paired"]:
        return []
    lines = [
        "",
        "## Paired: the same questions under two conditions",
        "",
        "| from -> to | n | both right | right -> wrong | wrong -> right | both wrong | difference (95 %) "
        "| McNemar exact p | verdict |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for p in summary["paired"]:
        verdict = "within noise" if p["within_noise"] else ("better" if p["difference"] > 0 else "worse")
        lines.append(
            f"| {p['first']} -> {p['second']} | {p['n']} | {p['both_right']} | {p['right_to_wrong']} | "
            f"{p['wrong_to_right']} | {p['both_wrong']} | {100 * p['difference']:+.1f} points "
            f"({100 * p['ci95'][0]:+.1f} to {100 * p['ci95'][1]:+.1f}) | {p['mcnemar_p']:.3g} | {verdict} |"
        )
    lines += [
        "",
        "A difference is *within noise* when McNemar's exact test gives p >= 0.05: the flips either way "
        "are as many as chance would make.",
    ]
    return lines


def _cost_lines(summary: dict[str, Any], names: Sequence[str]) -> list[str]:
    lines = [
        "",
        "## Cost per question (means)",
        "",
        "| condition | vision tokens | LLM vision tokens | LLM tokens "
        "| GFLOPs (gazer) | GFLOPs total | seconds (gazer) | seconds total |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in names:
        s = summary["conditions"][c]
        t, f, sec = s["mean_tokens"], s["mean_flops"], s["mean_seconds"]
        gazer_flops = _num(f["gazer"], 1e9, 3) if s["gazer_flops_counted"] else ("-" if c == "full" else "not counted")
        lines.append(
            f"| {c} | {_num(t['vision'], digits=0)} | {_num(t['llm_vision'], digits=0)} | "
            f"{_num(t['llm'], digits=0)} | {gazer_flops} | {_num(f['total'], 1e9, 3)} | "
            f"{_num(sec['gazer'], digits=3)} | {_num(sec['total'], digits=3)} |"
        )
    lines += [
        "",
        "FLOPs: analytic for the MLLM's stages (matrix products, a multiply-add = 2), the gazer's "
        "counted with FlopCounterMode; gazed totals include the gazer's FLOPs and seconds. Seconds are "
        "wall time on this run's machine; the frames' decoding (the same for every condition) is not in them.",
    ]
    return lines


# ---- files ---------------------------------------------------------------------------------


def fig_report(summary: dict[str, Any]):
    """Plotly figure: accuracy (with 95 % intervals) against tokens, total GFLOPs and seconds, a point per
    condition; on the GFLOPs and seconds panels each gazed condition's cost without its gazer (hollow) and the
    break-even against its post-ViT pruned condition (dotted: the pruned condition's cost, where the gazed
    point lands when its gazer costs as much as it saves)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    axes = [
        ("vision tokens per question", lambda s: s["mean_tokens"]["vision"]),
        ("GFLOPs per question", lambda s: (s["mean_flops"]["total"] or 0) / 1e9),
        ("seconds per question", lambda s: s["mean_seconds"]["total"]),
    ]
    fig = make_subplots(rows=1, cols=3, subplot_titles=[f"accuracy vs {a[0]}" for a in axes], shared_yaxes=True)
    for name, s in summary["conditions"].items():
        acc = s["accuracy"] or 0.0
        err = dict(type="data", symmetric=False, array=[s["ci95"][1] - acc], arrayminus=[acc - s["ci95"][0]])
        for col, (_, x_of) in enumerate(axes, 1):
            fig.add_trace(
                go.Scatter(
                    x=[x_of(s)],
                    y=[acc],
                    error_y=err,
                    mode="markers+text",
                    text=[name],
                    textposition="top center",
                    name=name,
                    legendgroup=name,
                    showlegend=col == 1,
                ),
                row=1,
                col=col,
            )
    _add_break_even(fig, summary)
    for col, (label, _) in enumerate(axes, 1):
        fig.update_xaxes(title_text=label, row=1, col=col)
    fig.update_yaxes(title_text="accuracy (95 % interval)", range=[0, 1], row=1, col=1)
    fig.update_layout(
        template="plotly_white",
        height=460,
        title=f"n = {summary['n']['answered']} questions; {summary.get('mllm', '')}",
    )
    return fig


def _add_break_even(fig, summary: dict[str, Any]) -> None:
    """The gazer's share (hollow marker: the gazed cost without it) and the break-even lines (see fig_report)."""
    import plotly.graph_objects as go

    conditions = summary["conditions"]
    for b in summary.get("break_even", []):
        gazed, pruned = conditions[b["gazed"]], conditions[b["pruned"]]
        acc = gazed["accuracy"] or 0.0
        for col, key, scale in ((2, "mean_flops", 1e9), (3, "mean_seconds", 1.0)):
            total, gazer = gazed[key]["total"], gazed[key].get("gazer")
            if total is None or pruned[key]["total"] is None:
                continue
            if gazer is not None:
                fig.add_trace(
                    go.Scatter(
                        x=[(total - gazer) / scale, total / scale],
                        y=[acc, acc],
                        mode="lines+markers",
                        marker=dict(symbol=["circle-open", "circle"], size=9),
                        line=dict(dash="dot"),
                        name=f"{b['gazed']} without its gazer",
                        showlegend=False,
                    ),
                    row=1,
                    col=col,
                )
            fig.add_vline(
                x=pruned[key]["total"] / scale,
                line_dash="dot",
                line_color="grey",
                row=1,
                col=col,
                annotation_text=f"break-even {b['gazed']} vs {b['pruned']}",
                annotation_textangle=-90,
            )


def write_report(
    out: Path, records: Sequence[dict[str, Any]], settings, questions: int, fmt: str = "", source: str = ""
) -> dict[str, Any]:
    """summary.json, report.md and report.html in `out`; returns the summary."""
    from ..mllm import RANDOM_WEIGHTS_NOTE, TINY_RANDOM_MLLMS

    names = [c.name for c in settings.conditions]
    note = RANDOM_WEIGHTS_NOTE if str(settings.mllm).strip().lower() in TINY_RANDOM_MLLMS else None
    meta = {"mllm": settings.mllm, "format": fmt, "source": source, "note": note, "settings": settings.meaning()}
    budget_from = {c.name: c.budget_from for c in settings.conditions if c.pruning}
    summary = summarize(records, names, questions, meta, budget_from)
    write_json(summary, Path(out) / SUMMARY, indent=1)
    text = report_text(summary)
    with atomic_write(Path(out) / REPORT_MD) as tmp:
        tmp.write_text(text)
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>evaluation report</title></head><body>"
        + fig_report(summary).to_html(full_html=False, include_plotlyjs=True)
        + f"<pre style='font-size:13px'>{html.escape(text)}</pre></body></html>"
    )
    with atomic_write(Path(out) / REPORT_HTML) as tmp:
        tmp.write_text(page)
    return summary
