"""instruction-following (Vicuna-80, single turn) and mt-bench (80 two-turn questions).

Both answer with the model's chat template, greedy. instruction-following: `judge_kind =
"instruction"`, the reference is the dense model's answer (`reference=dense`, default) or a
reference-answer jsonl (`{"question_id", "text"}` lines, e.g. llm-kick's GPT-3.5-turbo answers)
put in `sample.reference`. mt-bench: the second turn is asked after the model's own first answer;
`sample.turns` and `record.answers` hold the conversation, `judge_kind = "mt-bench"`, the GPT-4
reference answers (math, reasoning, coding) are in `sample.meta["reference_turns"]` and
`sample.reference`. Judge-free distinct-content measures per answer (the paper's last finding):
`unique_words`, `distinct_1`, `distinct_2` (word tokens, lower-cased), and corpus-level distinct-n.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_builder import rows
from kick import DataError, ModelBackend, Prediction, Record, Sample, SpecError, build_config
from kick_tasks.common import SMOKE_DIR, CachedSamples, check_limit, select
from kick_tasks.metrics import distinct_n, mean, words

SEPARATOR = "\n\n"


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
    out = {
        k: mean(r.scores.get(k, 0.0) for r in records)
        for k in ("unique_words", "words", "distinct_1", "distinct_2")
    }
    corpus = [w for r in records for w in words(r.output)]
    out["corpus_distinct_1"] = distinct_n(corpus, 1)
    out["corpus_distinct_2"] = distinct_n(corpus, 2)
    out["empty_rate"] = mean(float(not r.output.strip()) for r in records)
    return out


class InstructionFollowing(CachedSamples):
    name = "instruction-following"
    judge_kind: str | None = "instruction"
    primary_metric = "distinct_2"
    lower_is_better = frozenset({"empty_rate"})

    def __init__(self, config: InstructConfig) -> None:
        self.config = config
        self.source = rows.resolve(
            "vicuna_bench", config.data, smoke=SMOKE_DIR / "instruction_following.jsonl"
        )
        self.reference_source: dict[str, Any] = {"kind": "dense model answers"}

    def _rows(self) -> list[tuple[str, str, str, str | None]]:
        """(id, category, question, reference answer or None)."""
        got = rows.read("vicuna_bench", self.source, "test")
        self.source = got.source
        return [(str(r["id"]), r["category"], r["question"], r.get("reference_answer")) for r in got.rows]

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        questions = self._rows()
        refs: dict[str, str] = {}
        if self.config.reference == "data":  # a built dataset's own reference_answer column
            refs = {qid: ref for qid, _, _, ref in questions if ref}
            self.reference_source = {"kind": "reference_answer field of the data"}
        elif self.config.reference != "dense":
            ref_path = Path(self.config.reference).expanduser()
            if not ref_path.is_file():
                raise DataError(f"instruction-following: reference file {ref_path} does not exist")
            refs, ref_source = rows.reference_answers(ref_path)
            self.reference_source = ref_source.as_dict()
        chosen = select(questions, self.config.limit, self.config.seed)
        out = []
        for qid, cat, q, _ in chosen:
            ref = refs.get(qid) if self.config.reference != "dense" else None
            out.append(Sample(f"q{qid}", q, ref, meta={"question_id": qid}, turns=(q,), category=cat))
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
            [s.prompt for s in samples],
            max_new_tokens=self.config.max_new_tokens,
            chat=True,
            batch_size=batch_size,
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
        self.source = rows.resolve("mt_bench", config.data, smoke=SMOKE_DIR / "mt_bench.jsonl")
        self.reference_source: dict[str, Any] | None = None

    def _rows(self) -> list[tuple[str, str, list[str], list[str]]]:
        """(id, category, two turns, reference turns)."""
        got = rows.read("mt_bench", self.source, "test", references=self.config.references)
        self.source = got.source
        if got.references is not None:
            self.reference_source = got.references.as_dict()
        return [
            (str(r["id"]), r["category"], list(r["turns"]), list(r["reference_turns"] or []))
            for r in got.rows
        ]

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        chosen = select(self._rows(), self.config.limit, self.config.seed)
        return [
            Sample(
                f"q{qid}",
                turns[0],
                list(refs) if refs else None,
                meta={"reference_turns": refs, "question_id": qid},
                turns=tuple(turns),
                category=cat,
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
        first = model.generate(
            [[s.turns[0]] for s in samples], max_new_tokens=n, chat=True, batch_size=batch_size
        )
        first = [a.strip() for a in first]
        convs = [[s.turns[0], a, s.turns[1]] for s, a in zip(samples, first, strict=True)]
        second = [
            a.strip() for a in model.generate(convs, max_new_tokens=n, chat=True, batch_size=batch_size)
        ]
        return [
            Prediction(s.id, a1 + SEPARATOR + a2, answers=(a1, a2))
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
