"""instruction-following (Vicuna-80, single turn) and mt-bench (80 two-turn questions).

Both answer in a chat (`chat_template`: the model's own by default, `vicuna_v1.1` built in, or a
template file; see `kick_tasks.chat`), greedy with 256 new tokens unless `do_sample`,
`temperature`, `max_new_tokens` say otherwise. A conversation that does not fit
`context_length - max_new_tokens` is not cut: the item is an error ("does not fit") and counted.

instruction-following: `judge_kind = "instruction"`. The reference (`reference`): `auto`
(default) takes the data's own reference answers where they exist -- the shared Vicuna-80 folder's
GPT-3.5-turbo answers (`answer_gpt-3.5-turbo.jsonl` beside `question.jsonl`, the paper's
reference) or a built dataset's `reference_answer` column -- else the dense model's answers;
`data` the built column only; `dense` the dense model; or a reference-answer jsonl
(`{"question_id", "text"}` lines). With a reference of its own the dense model is judged too, so
the summary has dense / reference and compressed / reference (`judge_score_ratio`) and the
comparison tells how much of dense's score is kept. Headline metric: the judge's `judge_score`;
distinct-n is secondary. `protocol=paper` is the released `free_form_answer_prune.py`: sampling
at T=0.7 with 1,024 new tokens (seeded by `seed`), the judge at the released temperature (0.2)
with one order, the reference first (`judge_overrides`); the released code used FastChat's
conversation template of the model (`chat_template=vicuna_v1.1` for the Vicuna models). mt-bench
is not in the paper (no `protocol=paper`): the second turn is asked after the model's own first answer;
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

from dataset_builder import rows, sources
from kick import (
    DataError,
    ModelBackend,
    Prediction,
    ProgressFn,
    Record,
    Sample,
    SpecError,
    build_config,
    scaled,
)
from kick_tasks.chat import ChatFormat
from kick_tasks.common import (
    PROTOCOL_NOTE,
    SMOKE_DIR,
    CachedSamples,
    Decoding,
    GenerationParams,
    check_limit,
    select,
)
from kick_tasks.metrics import distinct_n, mean, words

SEPARATOR = "\n\n"
KICK_DECODING = Decoding(max_new_tokens=256)
PAPER_DECODING = Decoding(max_new_tokens=1024, do_sample=True, temperature=0.7)
PAPER_JUDGE = {"swap": False, "temperature": 0.2, "max_tokens": 1024}
GPT35_ANSWERS = Path(sources.VICUNA_ANSWERS).name


@dataclass(frozen=True)
class InstructConfig(GenerationParams):
    data: str = "smoke"
    reference: str = "auto"
    limit: int | None = None
    chat_template: str = "model"

    def __post_init__(self) -> None:
        check_limit(self.limit)
        self.check_generation("instruction-following")


@dataclass(frozen=True)
class MTBenchConfig(GenerationParams):
    data: str = "smoke"
    references: str = "auto"  # "auto": reference_answer/gpt-4.jsonl next to the questions; "none"; a path
    limit: int | None = None
    chat_template: str = "model"

    def __post_init__(self) -> None:
        check_limit(self.limit)
        self.check_generation("mt-bench")
        if self.protocol == "paper":
            raise SpecError("mt-bench: not in the paper, so there is no protocol=paper (use kick)")


def fits(chat: ChatFormat, model: ModelBackend, turns: Sequence[str], max_new_tokens: int) -> str | None:
    """None when the conversation fits `context_length - max_new_tokens`, else the error."""
    n = chat.tokens(model, turns)
    room = model.context_length - max_new_tokens
    if n is not None and n > room:
        return f"prompt of {n} tokens does not fit context {model.context_length} - {max_new_tokens} new tokens; not cut"
    return None


def chat_answers(
    chat: ChatFormat,
    model: ModelBackend,
    convs: Sequence[Sequence[str]],
    decoding: Decoding,
    batch_size: int,
    progress: ProgressFn | None = None,
) -> list[tuple[str, str | None]]:
    """(answer, error) per conversation; one that does not fit is not sent."""
    errors = [fits(chat, model, c, decoding.max_new_tokens) for c in convs]
    todo = [i for i, e in enumerate(errors) if e is None]
    outs = chat.generate(model, [convs[i] for i in todo], decoding, batch_size, progress) if todo else []
    answers = dict(zip(todo, (o.strip() for o in outs), strict=True))
    return [(answers.get(i, ""), e) for i, e in enumerate(errors)]


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
    reports_progress = True  # predict takes progress= (kick.batch_progress)
    name = "instruction-following"
    judge_kind: str | None = "instruction"
    primary_metric = "judge_score"
    lower_is_better = frozenset({"empty_rate"})

    def __init__(self, config: InstructConfig) -> None:
        self.config = config
        self.paper = config.protocol == "paper"
        self.decoding = config.decoding(KICK_DECODING, PAPER_DECODING)
        self.chat = ChatFormat.parse(config.chat_template)
        self.judge_overrides: Mapping[str, Any] | None = PAPER_JUDGE if self.paper else None
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
        beside = self._answers_beside()
        if self.config.reference == "auto" and beside is not None:
            refs, ref_source = rows.reference_answers(beside)
            self.reference_source = {**ref_source.as_dict(), "kind": "the data's reference answers"}
        elif self.config.reference in ("data", "auto") and any(ref for *_, ref in questions):
            refs = {qid: ref for qid, _, _, ref in questions if ref}
            self.reference_source = {"kind": "reference_answer field of the data"}
        elif self.config.reference == "data":
            raise DataError("instruction-following: reference=data, but the data has no reference answers")
        elif self.config.reference not in ("dense", "auto"):
            ref_path = Path(self.config.reference).expanduser()
            if not ref_path.is_file():
                raise DataError(f"instruction-following: reference file {ref_path} does not exist")
            refs, ref_source = rows.reference_answers(ref_path)
            self.reference_source = ref_source.as_dict()
        chosen = select(questions, self.config.limit, self.config.seed)
        out = []
        for qid, cat, q, _ in chosen:
            ref = refs.get(qid)
            out.append(Sample(f"q{qid}", q, ref, meta={"question_id": qid}, turns=(q,), category=cat))
        return out

    def _answers_beside(self) -> Path | None:
        """The GPT-3.5-turbo answers file beside a raw question file (the shared Vicuna-80 layout)."""
        if self.source.kind not in ("raw", "smoke"):
            return None
        questions = Path(self.source.details.get("file", self.source.location))
        path = (questions if questions.is_dir() else questions.parent) / GPT35_ANSWERS
        return path if path.is_file() else None

    def settings(self) -> Mapping[str, Any]:
        self.samples()  # resolves the source digest
        return {
            "protocol": self.config.protocol,
            "protocol_note": PROTOCOL_NOTE[self.config.protocol],
            "source": self.source.as_dict(),
            "reference": self.reference_source,
            "decoding": self.decoding.as_dict(),
            "chat_template": self.chat.as_dict(),
            "judge_overrides": dict(self.judge_overrides) if self.judge_overrides else None,
            "distinct": "word tokens (\\w+, lower-cased): unique_words, distinct-1/2 per answer and corpus",
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(self.samples()),
        }

    def predict(
        self,
        model: ModelBackend,
        samples: Sequence[Sample],
        *,
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[Prediction]:
        outs = chat_answers(
            self.chat, model, [[s.prompt] for s in samples], self.decoding, batch_size, progress
        )
        return [Prediction(s.id, o, error=e) for s, (o, e) in zip(samples, outs, strict=True)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return distinct_scores(prediction.output)

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return aggregate_distinct(records)


class MTBench(CachedSamples):
    reports_progress = True  # predict takes progress= (kick.batch_progress)
    name = "mt-bench"
    judge_kind: str | None = "mt-bench"
    primary_metric = "judge_score"
    lower_is_better = frozenset({"empty_rate"})

    def __init__(self, config: MTBenchConfig) -> None:
        self.config = config
        self.decoding = config.decoding(KICK_DECODING)
        self.chat = ChatFormat.parse(config.chat_template)
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
            "protocol": "kick",
            "references": self.reference_source,
            "decoding": self.decoding.as_dict(),
            "chat_template": self.chat.as_dict(),
            "turns": "turn 2 is asked after the model's own turn-1 answer",
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(self.samples()),
        }

    def predict(
        self,
        model: ModelBackend,
        samples: Sequence[Sample],
        *,
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[Prediction]:
        half = scaled(progress, 0.5)  # two turns: each answer is half a sample
        first = chat_answers(
            self.chat, model, [[s.turns[0]] for s in samples], self.decoding, batch_size, half
        )
        convs = [[s.turns[0], a, s.turns[1]] for s, (a, _) in zip(samples, first, strict=True)]
        second = chat_answers(self.chat, model, convs, self.decoding, batch_size, half)
        out = []
        for s, (a1, e1), (a2, e2) in zip(samples, first, second, strict=True):
            error = e1 or (f"turn 2: {e2}" if e2 else None)
            out.append(Prediction(s.id, a1 + SEPARATOR + a2, answers=(a1, a2), error=error))
        return out

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return distinct_scores(prediction.output)

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return aggregate_distinct(records)


def make_instruction_following(**params: Any) -> InstructionFollowing:
    return InstructionFollowing(build_config(InstructConfig, params, owner="task instruction-following"))


def make_mt_bench(**params: Any) -> MTBench:
    return MTBench(build_config(MTBenchConfig, params, owner="task mt-bench"))
