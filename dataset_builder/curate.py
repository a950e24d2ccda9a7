"""Curation: reader records -> rows of the normalized schema (`dataset_builder/schema.py`). Pure functions."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from dataset_builder.mmlu_categories import category_of
from dataset_builder.readers import (
    FreebaseQuestion,
    MMLURow,
    ModelAnswer,
    MTBenchQuestion,
    NQOracleRow,
    SquadQuestion,
    Story,
    VicunaQuestion,
)
from dataset_builder.sources import SOURCES
from kick.errors import DataError

Row = dict[str, Any]


def _common(row_id: str, source: str) -> Row:
    return {"id": row_id, "source": source, "license": SOURCES[source].license}


def dedupe(values: Iterable[str]) -> list[str]:
    """Strip, drop empties, and drop case-insensitive duplicates, keeping the first spelling."""
    seen: set[str] = set()
    out = []
    for v in values:
        v = v.strip()
        key = v.casefold()
        if v and key not in seen:
            seen.add(key)
            out.append(v)
    return out


# --------------------------------------------------------------------------- FreebaseQA


def factoid_rows(questions: Sequence[FreebaseQuestion]) -> list[Row]:
    """One row per question; `answers` = every alias of every parse, de-duplicated."""
    rows = []
    for q in questions:
        answers = dedupe(name for p in q.parses for name in p.answer_names)
        if not answers:
            raise DataError(f"FreebaseQA question {q.question_id} has no answer names")
        rows.append(
            {**_common(q.question_id, "freebaseqa"), "question": q.question.strip(), "answers": answers}
        )
    return rows


# --------------------------------------------------------------------------- MMLU


def mmlu_rows(subject: str, split: str, rows: Sequence[MMLURow]) -> list[Row]:
    category = category_of(subject)
    return [
        {
            **_common(f"{subject}-{split}-{i}", "mmlu"),
            "subject": subject,
            "category": category,
            "question": r.question,
            "choices": list(r.choices),
            "answer": r.answer,
        }
        for i, r in enumerate(rows)
    ]


# --------------------------------------------------------------------------- in-context retrieval QA


def nq_rows(rows: Sequence[NQOracleRow]) -> list[Row]:
    return [
        {
            **_common(f"nq-open-oracle-{i}", "nq_open_oracle"),
            "question": r.question.strip(),
            "answers": dedupe(r.answers),
            "context": r.context.strip(),
            "context_title": r.context_title.strip(),
        }
        for i, r in enumerate(rows)
    ]


def squad_rows(questions: Sequence[SquadQuestion]) -> list[Row]:
    return [
        {
            **_common(q.question_id, "squad_v1.1"),
            "question": q.question.strip(),
            "answers": dedupe(q.answers),
            "context": q.context,
            "context_title": q.title.replace("_", " "),
        }
        for q in questions
    ]


# --------------------------------------------------------------------------- summarization


def story_text(story: Story) -> str:
    """The article body: each paragraph's whitespace collapsed, paragraphs separated by a blank
    line (never glued sentence to sentence, paragraph breaks kept)."""
    return "\n\n".join(" ".join(p.split()) for p in story.paragraphs)


def _fingerprint(story: Story) -> str:
    """Case- and whitespace-insensitive hash of the article text."""
    return hashlib.sha256(" ".join(story_text(story).casefold().split()).encode("utf-8")).hexdigest()


def assign_buckets(buckets: Mapping[str, Sequence[Story]], order: Sequence[str]) -> dict[str, list[Story]]:
    """Keep each story in one bucket only: the first of `order` (smallest first) that holds it.

    A story is the same story if it has the same id (file name = CNN/DM URL hash) or the same
    article text up to case and whitespace. Within a bucket stories keep the caller's order (the
    builder reads the files sorted by name, so the result is deterministic)."""
    taken_ids: set[str] = set()
    taken_text: set[str] = set()
    out: dict[str, list[Story]] = {}
    for bucket in order:
        kept = []
        for story in buckets.get(bucket, ()):
            fp = _fingerprint(story)
            if story.story_id in taken_ids or fp in taken_text:
                continue
            taken_ids.add(story.story_id)
            taken_text.add(fp)
            kept.append(story)
        out[bucket] = kept
    return out


def summarization_rows(bucket: str, stories: Sequence[Story]) -> list[Row]:
    return [
        {
            **_common(s.story_id, "cnn_dailymail"),
            "bucket": bucket,
            "story": story_text(s),
            "highlights": [" ".join(h.split()) for h in s.highlights],
        }
        for s in stories
    ]


# --------------------------------------------------------------------------- instruction following


def _one_answer_each(answers: Sequence[ModelAnswer], what: str) -> dict[int, ModelAnswer]:
    by_id: dict[int, ModelAnswer] = {}
    for a in answers:
        if a.question_id in by_id:
            raise DataError(f"{what}: two answers for question {a.question_id}")
        by_id[a.question_id] = a
    return by_id


def vicuna_rows(questions: Sequence[VicunaQuestion], answers: Sequence[ModelAnswer]) -> list[Row]:
    by_id = _one_answer_each(answers, "Vicuna-bench reference answers")
    rows = []
    for q in sorted(questions, key=lambda q: q.question_id):
        if q.question_id not in by_id:
            raise DataError(f"Vicuna-bench: question {q.question_id} has no reference answer")
        a = by_id[q.question_id]
        rows.append(
            {
                **_common(f"vicuna-{q.question_id}", "vicuna_bench"),
                "category": q.category,
                "question": q.text,
                "reference_answer": a.turns[0],
                "reference_model": a.model_id,
            }
        )
    return rows


def mt_bench_rows(questions: Sequence[MTBenchQuestion], references: Sequence[ModelAnswer]) -> list[Row]:
    by_id = _one_answer_each(references, "MT-Bench reference answers")
    return [
        {
            **_common(f"mt-bench-{q.question_id}", "mt_bench"),
            "category": q.category,
            "turns": list(q.turns),
            "reference_turns": list(by_id[q.question_id].turns) if q.question_id in by_id else [],
        }
        for q in sorted(questions, key=lambda q: q.question_id)
    ]


# --------------------------------------------------------------------------- perplexity


def wikitext_rows(lines: Sequence[str]) -> list[Row]:
    return [
        {**_common(f"wikitext2-test-{i}", "wikitext2"), "text": line + "\n"} for i, line in enumerate(lines)
    ]


# --------------------------------------------------------------------------- mini configs


def subsample(rows: Sequence[Row], n: int, seed: int, stratify: str | None = None) -> list[Row]:
    """A seeded sample of at most `n` rows in their original order.

    With `stratify`, each value of that field gets `max(1, n // number_of_values)` rows, so every
    stratum (e.g. every MMLU subject) stays represented."""
    if n <= 0:
        raise DataError(f"mini size must be positive, got {n}")
    if len(rows) <= n:
        return list(rows)
    rng = random.Random(seed)
    if stratify is None:
        keep = set(rng.sample(range(len(rows)), n))
    else:
        groups: dict[Any, list[int]] = {}
        for i, r in enumerate(rows):
            groups.setdefault(r[stratify], []).append(i)
        per = max(1, n // len(groups))
        keep = set()
        for key in sorted(groups, key=str):
            idx = groups[key]
            keep.update(rng.sample(idx, min(per, len(idx))))
    return [r for i, r in enumerate(rows) if i in keep]
