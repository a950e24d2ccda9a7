"""instruction-following (Vicuna-80, single turn) and mt-bench (80 two-turn questions).

Both answer with the model's chat template, greedy. instruction-following: `judge_kind =
"instruction"`, the reference is the dense model's answer (`reference=dense`, default) or a
reference-answer jsonl (`{"question_id", "text"}` lines, e.g. llm-kick's GPT-3.5-turbo answers)
put in `sample.reference`. mt-bench: the second turn is asked after the model's own first answer;
`record.extra["turns"]`/`["answers"]` hold the conversation, `judge_kind = "mt-bench"`, the GPT-4
reference answers (math, reasoning, coding) are in `sample.meta["reference_turns"]` and
`sample.reference`. Judge-free distinct-content measures per answer (the paper's last finding):
`unique_words`, `distinct_1`, `distinct_2` (word tokens, lower-cased), and corpus-level distinct-n.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_builder import readers
from kick.errors import DataError, SpecError
from kick.interfaces import ModelBackend
from kick.params import build_config
from kick.types import Prediction, Record, Sample
from kick_tasks.common import (
    CachedSamples,
    Source,
    check_limit,
    load_schema_rows,
    resolve_source,
    select,
    with_digest,
)
from kick_tasks.metrics import distinct_n, mean, words

SEPARATOR = "\n\n"
NEED_REFERENCE = frozenset({"math", "reasoning", "coding"})  # as FastChat's llm_judge


@dataclass(frozen=True)
class InstructConfig:
    data: str = "smoke"
    reference: str = "dense"
    limit: int | None = None
    seed: int = 0
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.max_new_tokens < 1:
            raise SpecError("max_new_tokens must be at least 1")


@dataclass(frozen=True)
class MTBenchConfig:
    data: str = "smoke"
    references: str = "auto"  # "auto": reference_answer/gpt-4.jsonl next to the questions; "none"; a path
    limit: int | None = None
    seed: int = 0
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.max_new_tokens < 1:
            raise SpecError("max_new_tokens must be at least 1")


def distinct_scores(text: str) -> dict[str, float]:
    toks = words(text)
    return {
        "unique_words": float(len(set(toks))),
        "words": float(len(toks)),
        "distinct_1": distinct_n(toks, 1),
        "distinct_2": distinct_n(toks, 2),
    }


def aggregate_distinct(records: Sequence[Record]) -> dict[str, float]:
    out = {k: mean(r.scores.get(k, 0.0) for r in records) for k in ("unique_words", "words", "distinct_1", "distinct_2")}
    corpus = [w for r in records for w in words(r.output)]
    out["corpus_distinct_1"] = distinct_n(corpus, 1)
    out["corpus_distinct_2"] = distinct_n(corpus, 2)
    out["empty_rate"] = mean(float(not r.output.strip()) for r in records)
    return out


def _question_file(source: Source, default_name: str) -> Path:
    path = source.path
    if path.is_dir():
        path = path / default_name
        if not path.is_file():
            raise DataError(f"{source.location}: no {default_name}")
        source.details["file"] = str(path)
    return path


def read_reference_answers(path: Path) -> dict[str, str]:
    """question_id -> answer text, from `{"question_id", "text"}` or `{"question_id", "choices"}` lines."""
    return {str(a.question_id): a.turns[0] for a in readers.read_answers(path) if a.turns}


def read_questions(path: Path) -> list[tuple[str, str, str, str | None]]:
    """(id, category, question, None): Vicuna `{"question_id", "text", "category"}` lines, or
    FastChat llm_judge `{"question_id", "category", "turns"}` lines (first turn)."""
    first = next((o for _, o in readers.iter_jsonl(path)), {})
    if "text" in first:
        return [(str(q.question_id), q.category, q.text, None) for q in readers.read_vicuna_questions(path)]
    return [(str(q.question_id), q.category, q.turns[0], None) for q in readers.read_mt_bench_questions(path)]


class InstructionFollowing(CachedSamples):
    name = "instruction-following"
    judge_kind: str | None = "instruction"
    primary_metric = "distinct_2"
    lower_is_better = frozenset({"empty_rate"})

    def __init__(self, config: InstructConfig) -> None:
        self.config = config
        self.source = resolve_source(
            config.data, smoke="instruction_following.jsonl", shared="vicuna_bench_llm_kick", config="vicuna_bench"
        )
        self.reference_source: dict[str, Any] = {"kind": "dense model answers"}

    def _rows(self) -> list[tuple[str, str, str, str | None]]:
        """(id, category, question, reference answer or None)."""
        if self.source.kind in ("built", "hub"):
            rows = load_schema_rows(self.source, "test")
            return [(str(r["id"]), r["category"], r["question"], r.get("reference_answer")) for r in rows]
        path = _question_file(self.source, "question.jsonl")
        self.source = with_digest(self.source)
        return read_questions(path)

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        rows = self._rows()
        refs: dict[str, str] = {}
        if self.config.reference == "data":  # a built dataset's own reference_answer column
            refs = {qid: ref for qid, _, _, ref in rows if ref}
            self.reference_source = {"kind": "reference_answer field of the data"}
        elif self.config.reference != "dense":
            ref_path = Path(self.config.reference).expanduser()
            if not ref_path.is_file():
                raise DataError(f"instruction-following: reference file {ref_path} does not exist")
            refs = read_reference_answers(ref_path)
            self.reference_source = with_digest(Source("raw", str(ref_path))).as_dict()
        chosen = select(rows, self.config.limit, self.config.seed)
        out = []
        for qid, cat, q, _ in chosen:
            ref = refs.get(qid) if self.config.reference != "dense" else None
            out.append(Sample(f"q{qid}", q, ref, meta={"question": q, "category": cat, "question_id": qid}))
        return out

    def settings(self) -> Mapping[str, Any]:
        self.samples()  # resolves the source digest
        return {
            "source": self.source.as_dict(),
            "reference": self.reference_source,
            "decoding": {"greedy": True, "chat_template": True, "max_new_tokens": self.config.max_new_tokens},
            "distinct": "word tokens (\\w+, lower-cased): unique_words, distinct-1/2 per answer and corpus",
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(self.samples()),
        }

    def predict(self, model: ModelBackend, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        outs = model.generate(
            [s.prompt for s in samples], max_new_tokens=self.config.max_new_tokens, chat=True, batch_size=batch_size
        )
        return [Prediction(s.id, o.strip()) for s, o in zip(samples, outs, strict=True)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return distinct_scores(prediction.output)

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return aggregate_distinct(records)


class MTBench(CachedSamples):
    name = "mt-bench"
    judge_kind: str | None = "mt-bench"
    primary_metric = "distinct_2"
    lower_is_better = frozenset({"empty_rate"})

    def __init__(self, config: MTBenchConfig) -> None:
        self.config = config
        self.source = resolve_source(config.data, smoke="mt_bench.jsonl", shared="mt_bench", config="mt_bench")
        self.reference_source: dict[str, Any] | None = None

    def _rows(self) -> list[tuple[str, str, list[str], list[str]]]:
        if self.source.kind in ("built", "hub"):
            rows = load_schema_rows(self.source, "test")
            return [(str(r["id"]), r["category"], list(r["turns"]), list(r["reference_turns"] or [])) for r in rows]
        qpath = _question_file(self.source, "question.jsonl")
        self.source = with_digest(self.source)
        refs = self._references(qpath)
        out = []
        for q in readers.read_mt_bench_questions(qpath):
            qid = str(q.question_id)
            if len(q.turns) != 2:
                raise DataError(f"{qpath}: question {qid} has {len(q.turns)} turns, expected 2")
            ref = refs.get(qid, list(q.reference)) if q.category in NEED_REFERENCE else []
            out.append((qid, q.category, list(q.turns), ref))
        return out

    def _references(self, qpath: Path) -> dict[str, list[str]]:
        ref = self.config.references
        if ref == "none":
            return {}
        path = qpath.parent / "reference_answer" / "gpt-4.jsonl" if ref == "auto" else Path(ref).expanduser()
        if not path.is_file():
            if ref == "auto":
                return {}
            raise DataError(f"mt-bench: reference file {path} does not exist")
        self.reference_source = with_digest(Source("raw", str(path))).as_dict()
        return {str(a.question_id): list(a.turns) for a in readers.read_mt_bench_answers(path)}

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        chosen = select(self._rows(), self.config.limit, self.config.seed)
        return [
            Sample(
                f"q{qid}",
                turns[0],
                list(refs) if refs else None,
                meta={"turns": turns, "category": cat, "reference_turns": refs, "question_id": qid},
            )
            for qid, cat, turns, refs in chosen
        ]

    def settings(self) -> Mapping[str, Any]:
        self.samples()  # resolves the source digest
        return {
            "source": self.source.as_dict(),
            "references": self.reference_source,
            "decoding": {"greedy": True, "chat_template": True, "max_new_tokens": self.config.max_new_tokens},
            "turns": "turn 2 is asked after the model's own turn-1 answer",
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(self.samples()),
        }

    def predict(self, model: ModelBackend, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        n = self.config.max_new_tokens
        first = model.generate([[s.meta["turns"][0]] for s in samples], max_new_tokens=n, chat=True, batch_size=batch_size)
        first = [a.strip() for a in first]
        convs = [[s.meta["turns"][0], a, s.meta["turns"][1]] for s, a in zip(samples, first, strict=True)]
        second = [a.strip() for a in model.generate(convs, max_new_tokens=n, chat=True, batch_size=batch_size)]
        return [
            Prediction(s.id, a1 + SEPARATOR + a2, {"turns": list(s.meta["turns"]), "answers": [a1, a2]})
            for s, a1, a2 in zip(samples, first, second, strict=True)
        ]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return distinct_scores(prediction.output)

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return aggregate_distinct(records)


def make_instruction_following(**params: Any) -> InstructionFollowing:
    return InstructionFollowing(build_config(InstructConfig, params, owner="task instruction-following"))


def make_mt_bench(**params: Any) -> MTBench:
    return MTBench(build_config(MTBenchConfig, params, owner="task mt-bench"))
