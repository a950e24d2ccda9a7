"""Judging records of a finished evaluation (inline in `kick run`, or later with `kick judge`).

A Judgement's scores use this convention: `<criterion>` is the judged answer's score,
`<criterion>_ref` the reference answer's score (pairwise protocols), and `inconsistent` is 1.0
when the two answer orders disagree on which answer is better. Judge scores are stored in the
record under `judge.<key>`; a judge failure is kept in `record.extra["judge_error"]` with the
raw reply, never dropped. A judge's per-item details (token usage, per-order scores, parse
retries) go to `record.extra["judge"]`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kick.interfaces import Judge, Progress
from kick.types import ComponentSpec, JudgeItem, Record, Sample

if TYPE_CHECKING:
    from kick.plugins import PluginSet

PREFIX = "judge."
JUDGE_KEYS = ("judge_error", "judge_raw", "judge")


def judge_item(kind: str, sample: Sample, record: Record, reference: Sequence[str] | None) -> JudgeItem:
    """Build the JudgeItem for one record: its user turns, its answer turns, the reference."""
    turns = (
        record.extra.get("turns") or sample.meta.get("turns") or [sample.meta.get("question", sample.prompt)]
    )
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
    get = getattr(judge, "reference_answers", None)
    refs = get() if callable(get) else None
    return {str(k): [str(t) for t in v] for k, v in refs.items()} if refs is not None else None


def _answer_turns(row: Mapping[str, Any]) -> list[str] | None:
    for key in ("turns", "reference", "answer", "text", "output"):
        val = row.get(key)
        if isinstance(val, str) and val:
            return [val]
        if isinstance(val, list) and val and all(isinstance(t, str) for t in val):
            return list(val)
    choices = row.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return _answer_turns(choices[0])
    return None


def parse_reference_rows(lines: Sequence[str], source: str = "references") -> dict[str, list[str]]:
    """Reference answers from JSON lines: the id is `sample_id`, `question_id` or `id`; the
    answer is `turns`, `reference`, `answer`, `text`, `output` or `choices[0].turns` (the
    FastChat answer and MT-Bench reference formats). A malformed line is a DataError."""
    import json

    from kick.errors import DataError

    out: dict[str, list[str]] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DataError(f"{source}:{n}: not a JSON line") from None
        sid = (
            next((row[k] for k in ("sample_id", "question_id", "id") if k in row), None)
            if isinstance(row, dict)
            else None
        )
        turns = _answer_turns(row) if isinstance(row, dict) else None
        if sid is None or turns is None:
            raise DataError(f"{source}:{n}: needs an id (sample_id, question_id or id) and an answer text")
        out[str(sid)] = turns
    return out


def load_reference_file(path: str | Path) -> dict[str, list[str]]:
    from kick.errors import DataError

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"reference answers {p}: {e.strerror or e}") from None
    return parse_reference_rows(text.splitlines(), str(p))


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


def judge_metrics(records: Sequence[Record]) -> dict[str, Any]:
    """Per criterion: the answer's mean, the reference's mean and their ratio (the paper's
    compressed / reference), plus counts: judged, failed (an error is recorded on the record),
    position-inconsistent, and judged only after a format reminder."""
    judged = [r for r in records if any(k.startswith(PREFIX) for k in r.scores)]
    failed = sum(1 for r in records if "judge_error" in r.extra and not is_judged(r))
    out: dict[str, Any] = {"judged": len(judged), "judge_failed": failed}
    for crit in judge_criteria(judged):
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


def bind_run_dir(judge: Judge, run_dir: Path) -> None:
    """Tell a judge which run it judges (its default reply cache lives there), if it cares."""
    bind = getattr(judge, "bind_run_dir", None)
    if callable(bind):
        bind(run_dir)


def rejudge_run(
    run_dir: Path,
    judge_spec: ComponentSpec,
    *,
    force: bool = False,
    plugins: PluginSet | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Judge (or re-judge) a finished run from its records, without regenerating anything.

    The tasks are rebuilt from `RUN_DIR/spec.json` through the registry; records already judged
    are kept unless `force`; records whose judging failed are tried again. `summary.json` is
    then recomputed with the same aggregation as `kick run`, and records.jsonl is compacted.
    """
    from kick import runner
    from kick.errors import RunDirError
    from kick.plugins import load_plugins
    from kick.rundir import COMPRESSION, RECORDS, SPEC, SUMMARY, RecordStore, read_json, write_json_atomic
    from kick.types import RunSpec

    run_dir = Path(run_dir)
    if not (run_dir / SPEC).is_file() or not (run_dir / RECORDS).is_file():
        raise RunDirError(f"{run_dir} is not a kick run directory (needs {SPEC} and {RECORDS})")
    plugins = plugins or load_plugins()
    progress = progress or Progress()
    spec = RunSpec.from_dict(read_json(run_dir / SPEC)["spec"])
    spec = dataclasses.replace(spec, judge=judge_spec)
    comps = runner.build_components(spec, plugins)
    assert comps.judge is not None
    judged_tasks = [t for t in comps.tasks if t.judge_kind]
    if not judged_tasks:
        raise RunDirError(f"{run_dir}: none of its tasks ({', '.join(comps.task_names)}) is judged")
    old = read_json(run_dir / SUMMARY) if (run_dir / SUMMARY).is_file() else {}
    store = RecordStore(run_dir / RECORDS)
    variants = old.get("variants") or [
        v for v in (runner.DENSE, runner.COMPRESSED) if any(r.variant == v for r in store.all())
    ]
    bind_run_dir(comps.judge, run_dir)
    started = time.time()
    for task in judged_tasks:
        runner.judge_task(comps.judge, task, variants, store, progress, force=force)
    store.compact()
    compression = old.get("compression")
    if compression is None and (run_dir / COMPRESSION).is_file():
        compression = read_json(run_dir / COMPRESSION)
    tol = old.get("tolerance") or {}
    summary = runner.build_summary(
        spec,
        comps,
        store,
        variants,
        old.get("model") or {},
        compression,
        plugins,
        rel_tol=float(tol.get("relative", 0.05)),
        abs_tol=tol.get("absolute"),
    )
    summary["seconds"] = old.get("seconds")
    summary["judged_at"] = {"time": time.time(), "seconds": time.time() - started, "force": force}
    write_json_atomic(run_dir / SUMMARY, summary)
    return summary
