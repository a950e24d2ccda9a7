"""Judging a run's records (phase 7 of `kick.runner.run`, also what `kick judge` re-runs).

A Judgement's scores use this convention: `<criterion>` is the judged answer's score,
`<criterion>_ref` the reference answer's score (pairwise protocols), and `inconsistent` is 1.0
when the two answer orders disagree on which answer is better. Judge scores are stored in the
record under `judge.<key>`; a judge failure is kept in `record.extra["judge_error"]` with the
raw reply, never dropped. A judge's per-item details (token usage, per-order scores, parse
retries) go to `record.extra["judge"]`.

`judge_score` is a judged task's headline metric: per item the mean of the answer's criteria
(`judge_score_ref` the reference's), with `judge_score_ratio` the paper's answer / reference. A
task may set `judge_overrides` (e.g. its `protocol=paper`: one order, the released judge
temperature); a judge applies them with its optional `with_overrides`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kick.errors import DataError, SpecError
from kick.interfaces import Judge, Progress, Task, optional_member
from kick.rundir import RecordStore
from kick.types import DENSE, JudgeItem, Record, Sample

PREFIX = "judge."
JUDGE_KEYS = ("judge_error", "judge_raw", "judge")


def judge_item(kind: str, sample: Sample, record: Record, reference: Sequence[str] | None) -> JudgeItem:
    """Build the JudgeItem for one record: its user turns, its answer turns, the reference."""
    turns = sample.turns or (sample.prompt,)
    answers = record.answers or (record.output,)
    return JudgeItem(
        sample_id=sample.id,
        kind=kind,
        question=tuple(str(t) for t in turns),
        answer=tuple(str(a) for a in answers),
        reference=tuple(str(r) for r in reference) if reference is not None else None,
        category=sample.category,
    )


def is_judged(record: Record) -> bool:
    """Whether a record already has judge scores. A record whose judging failed is not judged:
    a rerun (or `kick judge`) tries it again; replies already received come from the cache."""
    return any(k.startswith(PREFIX) for k in record.scores)


def merge_judgement(
    record: Record,
    scores: Mapping[str, float],
    error: str | None,
    raw: Sequence[str],
    extra: Mapping[str, Any] | None = None,
) -> Record:
    """The record with its previous judge results replaced by this judgement's. An error
    keeps no scores (a partial verdict would be position-biased)."""
    new_scores = {k: v for k, v in record.scores.items() if not k.startswith(PREFIX)}
    if not error:
        new_scores.update({PREFIX + k: float(v) for k, v in scores.items()})
    new_extra = {k: v for k, v in record.extra.items() if k not in JUDGE_KEYS}
    if error:
        new_extra["judge_error"] = error
    if raw:
        new_extra["judge_raw"] = list(raw)
    if extra:
        new_extra["judge"] = dict(extra)
    return dataclasses.replace(record, scores=new_scores, extra=new_extra)


def run_judge(judge: Judge, items: Sequence[JudgeItem], records: Sequence[Record]) -> list[Record]:
    """Judge `items` (one per record, same order) and return the updated records."""
    verdicts = judge.judge(items)
    if len(verdicts) != len(items):
        raise RuntimeError(f"judge {judge.name!r} returned {len(verdicts)} verdicts for {len(items)} items")
    out = []
    for r, v in zip(records, verdicts, strict=True):
        if v.sample_id != r.sample_id:
            raise RuntimeError(
                f"judge {judge.name!r} answered {v.sample_id!r} where {r.sample_id!r} was asked"
            )
        out.append(merge_judgement(r, v.scores, v.error, v.raw, v.extra))
    return out


def reference_overrides(judge: Judge) -> Mapping[str, list[str]] | None:
    """A judge's own reference answers by sample id (its `references` file), or None: then the
    sample's reference, else the dense model's answer, is the reference."""
    get = optional_member(judge, "reference_answers", None)
    refs = get() if callable(get) else None
    return {str(k): [str(t) for t in v] for k, v in refs.items()} if refs is not None else None


def judge_criteria(records: Sequence[Record]) -> list[str]:
    """The judged criteria found in `records` (not the `_ref` twins, not `inconsistent`)."""
    keys = {k[len(PREFIX) :] for r in records for k in r.scores if k.startswith(PREFIX)}
    return sorted(k for k in keys if not k.endswith("_ref") and k != "inconsistent")


def ratio_of_means(pairs: Sequence[tuple[float, float]]) -> float | None:
    """The paper's compressed / reference: mean answer score over mean reference score, over
    the items that have both; None when there is no pair or the reference mean is 0."""
    if not pairs:
        return None
    ref = sum(r for _, r in pairs)
    return sum(a for a, _ in pairs) / ref if ref > 0 else None


def item_score(record: Record, criteria: Sequence[str], suffix: str = "") -> float | None:
    """The mean of one record's judge scores over `criteria` (`suffix` "_ref": the reference's)."""
    vals = [record.scores[PREFIX + c + suffix] for c in criteria if PREFIX + c + suffix in record.scores]
    return sum(vals) / len(vals) if vals and len(vals) == len(criteria) else None


def judge_metrics(records: Sequence[Record]) -> dict[str, Any]:
    """`judge_score` (mean over criteria, then over items), its reference twin and ratio; per
    criterion the answer's mean, the reference's mean and their ratio (the paper's compressed /
    reference); counts: judged, failed (an error is recorded on the record), position-inconsistent,
    and judged only after a format reminder."""
    judged = [r for r in records if any(k.startswith(PREFIX) for k in r.scores)]
    failed = sum(1 for r in records if "judge_error" in r.extra and not is_judged(r))
    out: dict[str, Any] = {"judged": len(judged), "judge_failed": failed}
    criteria = judge_criteria(judged)
    scored = [(item_score(r, criteria), item_score(r, criteria, "_ref")) for r in judged]
    answers = [a for a, _ in scored if a is not None]
    if answers:
        out["judge_score"] = sum(answers) / len(answers)
    refs = [b for _, b in scored if b is not None]
    if refs:
        out["judge_score_ref"] = sum(refs) / len(refs)
    ratio = ratio_of_means([(a, b) for a, b in scored if a is not None and b is not None])
    if ratio is not None:
        out["judge_score_ratio"] = ratio
    for crit in criteria:
        key, ref_key = PREFIX + crit, PREFIX + crit + "_ref"
        vals = [r.scores[key] for r in judged if key in r.scores]
        refs = [r.scores[ref_key] for r in judged if ref_key in r.scores]
        pairs = [
            (r.scores[key], r.scores[ref_key]) for r in judged if key in r.scores and ref_key in r.scores
        ]
        if vals:
            out[f"judge_{crit}"] = sum(vals) / len(vals)
        if refs:
            out[f"judge_{crit}_ref"] = sum(refs) / len(refs)
        ratio = ratio_of_means(pairs)
        if ratio is not None:
            out[f"judge_{crit}_ratio"] = ratio
    inc = [r.scores[PREFIX + "inconsistent"] for r in judged if PREFIX + "inconsistent" in r.scores]
    if inc:
        out["judge_inconsistent"] = int(sum(inc))
    unjudged = len(records) - len(judged) - failed
    if unjudged:
        out["judge_unjudged"] = unjudged  # no reference to judge against, or no answer
    retried = sum(1 for r in judged if (r.extra.get("judge") or {}).get("parse_retries"))
    if retried:
        out["judge_parse_retried"] = retried
    return out


class DenseReferences:
    """The dense model's answers of a run, by task and sample id: the reference a judge
    compares compressed answers with when a sample has no reference of its own. A `kick run`
    reads its own records; a sweep cell reads its dense cell's."""

    def __init__(self, store: RecordStore) -> None:
        self._store = store

    def answer(self, task: str, sample_id: str) -> list[str] | None:
        dense = self._store.get(DENSE, task, sample_id)
        if dense is None or dense.error:
            return None
        return list(dense.answers) if dense.answers else [dense.output]


def own_reference(sample: Sample) -> list[str] | None:
    """A sample's own reference answer (text or turns), if it has one."""
    ref = sample.reference
    if isinstance(ref, str) and ref:
        return [ref]
    if isinstance(ref, (list, tuple)) and ref and all(isinstance(x, str) for x in ref):
        return list(ref)
    return None


@dataclass
class JudgeCounts:
    """What one judging pass did with a run's records, for the user: items sent to the judge
    and how they ended, and the records it skipped, by reason."""

    asked: int = 0
    ok: int = 0
    failed: int = 0
    already_judged: int = 0  # kept from an earlier pass (--force re-judges them)
    no_reference: int = 0  # nothing to compare with: no reference answer, no dense answer
    references: int = 0  # dense records without a reference of their own: they are the reference
    generation_failed: int = 0  # the record has an error instead of an answer

    def add(self, other: JudgeCounts) -> None:
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)

    def nothing_to_judge(self) -> str | None:
        """Why nothing was sent to the judge, in words (None when something was)."""
        if self.asked:
            return None
        why = []
        if self.already_judged:
            why.append(f"{self.already_judged} record(s) are judged already (--force re-judges them)")
        if self.references:
            why.append(
                f"{self.references} dense answer(s) are the references themselves (the compressed answers are "
                "judged against them: run with a compression method, or give the judge a references file)"
            )
        if self.no_reference:
            why.append(f"{self.no_reference} record(s) have no reference answer to judge against")
        if self.generation_failed:
            why.append(f"{self.generation_failed} record(s) have no answer (their generation failed)")
        return "; ".join(why) or "no record of a judged task"


def check_references(judge: Judge, task: str, samples: Sequence[Sample]) -> None:
    """A judge's references file must be keyed by the task's sample ids: one that matches none
    of them would judge nothing, so it is refused before any work."""
    overrides = reference_overrides(judge)
    if overrides is None or not samples:
        return
    ids = [s.id for s in samples]
    if not set(ids) & set(overrides):
        raise DataError(
            f"judge references: none of its {len(overrides)} ids ({', '.join(sorted(overrides)[:3])} ...) is a "
            f"sample id of task {task!r} ({', '.join(ids[:3])} ...): give a file keyed by these ids"
        )


def judge_for_task(judge: Judge, task: Task) -> Judge:
    """The judge with the task's `judge_overrides` applied (the judge itself when it has none)."""
    overrides = optional_member(task, "judge_overrides", None)
    if not overrides:
        return judge
    apply = optional_member(judge, "with_overrides", None)
    if not callable(apply):
        raise SpecError(
            f"task {task.name} sets judge settings {dict(overrides)} that judge {judge.name!r} cannot apply"
        )
    return apply(overrides)  # type: ignore[no-any-return]


def judge_task(
    judge: Judge,
    task: Task,
    samples: Sequence[Sample],
    variants: Sequence[str],
    store: RecordStore,
    dense: DenseReferences,
    progress: Progress,
    *,
    force: bool = False,
) -> JudgeCounts:
    """Judge every not-yet-judged record of a judged task (every record with `force`); returns
    what it did (`JudgeCounts`).

    The reference is the judge's own reference file when it has one, else the sample's own
    reference answer, else the dense model's answer (then the dense variant itself is not
    judged: it is the reference)."""
    kind = task.judge_kind
    assert kind is not None
    judge = judge_for_task(judge, task)
    by_id = {s.id: s for s in samples}
    overrides = reference_overrides(judge)
    counts = JudgeCounts()
    for variant in variants:
        records = []
        for r in store.select(variant, task.name, list(by_id)):
            if force or not is_judged(r):
                records.append(r)
            else:
                counts.already_judged += 1
        items, todo = [], []
        for r in records:
            sample = by_id[r.sample_id]
            if overrides is not None:
                ref = overrides.get(sample.id)
            elif variant == DENSE and own_reference(sample) is None:
                counts.references += 1
                continue  # the dense answer is the reference: nothing to judge it against
            else:
                ref = own_reference(sample) or dense.answer(task.name, sample.id)
            if r.error:
                counts.generation_failed += 1
                continue
            if ref is None:
                counts.no_reference += 1
                continue
            items.append(judge_item(kind, sample, r, ref))
            todo.append(r)
        if not items:
            continue
        key = f"judge/{variant}/{task.name}"
        progress.start(key, f"judge {variant:5s} {task.name}", len(items))
        for start in range(0, len(items), 16):
            updated = run_judge(judge, items[start : start + 16], todo[start : start + 16])
            store.append(updated)
            counts.asked += len(updated)
            counts.ok += sum(1 for u in updated if is_judged(u))
            counts.failed += sum(1 for u in updated if not is_judged(u))
            progress.advance(key, len(updated))
        progress.finish(key)
    return counts
