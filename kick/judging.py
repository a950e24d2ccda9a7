"""Judging records of a finished evaluation (inline in `kick run`, or later with `kick judge`).

A Judgement's scores use this convention: `<criterion>` is the judged answer's score,
`<criterion>_ref` the reference answer's score (pairwise protocols), and `inconsistent` is 1.0
when the two answer orders disagree on which answer is better. Judge scores are stored in the
record under `judge.<key>`; a judge failure is kept in `record.extra["judge_error"]` with the
raw reply, never dropped.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from kick.interfaces import Judge
from kick.types import JudgeItem, Record, Sample

PREFIX = "judge."


def judge_item(kind: str, sample: Sample, record: Record, reference: Sequence[str] | None) -> JudgeItem:
    """Build the JudgeItem for one record: its user turns, its answer turns, the reference."""
    turns = record.extra.get("turns") or sample.meta.get("turns") or [sample.meta.get("question", sample.prompt)]
    answers = record.extra.get("answers") or [record.output]
    return JudgeItem(
        sample_id=sample.id,
        kind=kind,
        question=tuple(str(t) for t in turns),
        answer=tuple(str(a) for a in answers),
        reference=tuple(str(r) for r in reference) if reference is not None else None,
        category=sample.meta.get("category"),
    )


def is_judged(record: Record) -> bool:
    return any(k.startswith(PREFIX) for k in record.scores) or "judge_error" in record.extra


def merge_judgement(record: Record, scores: Mapping[str, float], error: str | None, raw: Sequence[str]) -> Record:
    new_scores = {k: v for k, v in record.scores.items() if not k.startswith(PREFIX)}
    new_scores.update({PREFIX + k: float(v) for k, v in scores.items()})
    extra = {k: v for k, v in record.extra.items() if k not in ("judge_error", "judge_raw")}
    if error:
        extra["judge_error"] = error
    if raw:
        extra["judge_raw"] = list(raw)
    return dataclasses.replace(record, scores=new_scores, extra=extra)


def run_judge(judge: Judge, items: Sequence[JudgeItem], records: Sequence[Record]) -> list[Record]:
    """Judge `items` (one per record, same order) and return the updated records."""
    verdicts = judge.judge(items)
    if len(verdicts) != len(items):
        raise RuntimeError(f"judge {judge.name!r} returned {len(verdicts)} verdicts for {len(items)} items")
    return [merge_judgement(r, v.scores, v.error, v.raw) for r, v in zip(records, verdicts, strict=True)]


def judge_metrics(records: Sequence[Record]) -> dict[str, Any]:
    """Per criterion: the answer's mean, the reference's mean and their ratio (the paper's
    compressed / reference), plus judged / failed / position-inconsistent counts."""
    judged = [r for r in records if any(k.startswith(PREFIX) for k in r.scores)]
    failed = sum(1 for r in records if "judge_error" in r.extra)
    out: dict[str, Any] = {"judged": len(judged), "judge_failed": failed}
    criteria = sorted(
        {k[len(PREFIX) :] for r in judged for k in r.scores if k.startswith(PREFIX)}
        - {"inconsistent"}
    )
    for crit in [c for c in criteria if not c.endswith("_ref")]:
        vals = [r.scores[PREFIX + crit] for r in judged if PREFIX + crit in r.scores]
        refs = [r.scores[PREFIX + crit + "_ref"] for r in judged if PREFIX + crit + "_ref" in r.scores]
        if vals:
            out[f"judge_{crit}"] = sum(vals) / len(vals)
        if refs:
            out[f"judge_{crit}_ref"] = sum(refs) / len(refs)
            if sum(refs) > 0 and len(refs) == len(vals):
                out[f"judge_{crit}_ratio"] = sum(vals) / sum(refs)
    inc = [r.scores[PREFIX + "inconsistent"] for r in judged if PREFIX + "inconsistent" in r.scores]
    if inc:
        out["judge_inconsistent"] = int(sum(inc))
    return out
