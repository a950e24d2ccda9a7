"""Per-config statistics: items, average prompt / answer length (words, optionally tokens),
category counts. Pure functions over rows."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dataset_builder.schema import base_config

TokenCounter = Callable[[str], int]


def prompt_and_answer(config: str, row: Mapping[str, Any]) -> tuple[str, str | None]:
    """The text a model reads and the reference it is compared with, for length statistics."""
    base = base_config(config)
    if base == "factoid_qa":
        return row["question"], row["answers"][0] if row["answers"] else ""
    if base == "mmlu":
        choices = list(row["choices"])
        return " ".join([row["question"], *choices]), choices["ABCD".index(row["answer"])]
    if base.startswith("icrqa_"):
        return f"{row['context']} {row['question']}", row["answers"][0] if row["answers"] else ""
    if base.startswith("summarization_"):
        return row["story"], " ".join(row["highlights"])
    if base == "vicuna_bench":
        return row["question"], row["reference_answer"]
    if base == "mt_bench":
        ref = " ".join(row["reference_turns"])
        return " ".join(row["turns"]), ref or None
    if base == "wikitext2":
        return row["text"], None
    raise KeyError(f"no statistics rule for config {config!r}")


def category_of_row(config: str, row: Mapping[str, Any]) -> str | None:
    for key in ("category", "bucket"):
        if key in row and row[key]:
            return str(row[key])
    return None


@dataclass(frozen=True)
class SplitStats:
    config: str
    split: str
    items: int
    prompt_words: float
    answer_words: float | None
    prompt_tokens: float | None = None
    answer_tokens: float | None = None
    categories: dict[str, int] = field(default_factory=dict)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def split_stats(
    config: str, split: str, rows: Sequence[Mapping[str, Any]], count_tokens: TokenCounter | None = None
) -> SplitStats:
    pairs = [prompt_and_answer(config, r) for r in rows]
    prompts = [p for p, _ in pairs]
    answers = [a for _, a in pairs if a is not None]
    cats = Counter(c for c in (category_of_row(config, r) for r in rows) if c is not None)
    return SplitStats(
        config=config,
        split=split,
        items=len(rows),
        prompt_words=_mean([len(p.split()) for p in prompts]) or 0.0,
        answer_words=_mean([len(a.split()) for a in answers]),
        prompt_tokens=_mean([count_tokens(p) for p in prompts]) if count_tokens else None,
        answer_tokens=_mean([count_tokens(a) for a in answers]) if count_tokens and answers else None,
        categories=dict(sorted(cats.items())),
    )


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def render_table(stats: Sequence[SplitStats]) -> str:
    """A Markdown table, one line per (config, split)."""
    tokens = any(s.prompt_tokens is not None for s in stats)
    head = ["config", "split", "items", "prompt words", "answer words"]
    if tokens:
        head += ["prompt tokens", "answer tokens"]
    head.append("categories")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in stats:
        cells = [s.config, s.split, str(s.items), _fmt(s.prompt_words), _fmt(s.answer_words)]
        if tokens:
            cells += [_fmt(s.prompt_tokens), _fmt(s.answer_tokens)]
        cells.append(", ".join(f"{k}: {v}" for k, v in s.categories.items()) or "-")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
