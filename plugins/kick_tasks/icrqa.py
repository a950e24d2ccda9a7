"""icrqa-closed / icrqa-open: in-context retrieval-augmented QA over the same questions.

Prompts (paper): closed `Answer these questions:\\n\\nQ: {question}\\nA:`; open
`{context}\\n\\nBased on these texts, answer these questions:\\n\\nQ: {question}\\nA:`. Greedy,
32 new tokens, first line kept. Fixes: official normalized EM and token F1 (max over aliases),
an empty answer scores 0 (the paper's two-way containment counted it correct), the context is
truncated by *tokens* to fit `context_length - max_new_tokens` (rate reported as
`truncation_rate`). Per-question scores live in the records (same sample ids in both tasks), so
`closed_open_gain()` computes the per-question gain.

Sources: NaturalQuestions-Open oracle jsonl (`ctxs[0]` title + text; the offline substitute, default
for `data=shared`), TriviaQA rc jsonl in the Hub schema (`entity_pages.wiki_context`,
`search_results.search_context`), SQuAD v1.1 json, or a built `icrqa_nq_open` config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dataset_builder import rows
from kick import ModelBackend, Prediction, Record, Sample, SpecError, build_config
from kick_tasks.common import SMOKE_DIR, CachedSamples, check_limit, select
from kick_tasks.metrics import alias_contained, exact_match, first_line, mean, token_f1

CLOSED = "Answer these questions:\n\nQ: {question}\nA:"
OPEN = "{context}\n\nBased on these texts, answer these questions:\n\nQ: {question}\nA:"
METRICS = ("em", "f1", "contains")


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    context: str


@dataclass(frozen=True)
class ICRQAConfig:
    data: str = "smoke"
    limit: int | None = None
    seed: int = 0
    max_new_tokens: int = 32
    max_context_chars: int = 0  # 0: no character cut (the paper cut TriviaQA evidence at 3,072)

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.max_new_tokens < 1 or self.max_context_chars < 0:
            raise SpecError("icrqa: max_new_tokens must be >= 1 and max_context_chars >= 0")


def closed_prompt(question: str) -> str:
    return CLOSED.format(question=question)


def open_prompt(context: str, question: str) -> str:
    return OPEN.format(context=context, question=question)


def qa_item(row: Mapping[str, Any]) -> QAItem:
    """A normalized-schema row -> the task's item; the context is `title + newline + passage`
    (just the passage when the row has no title, as for TriviaQA rc evidence)."""
    title = row.get("context_title", "")
    context = f"{title}\n{row['context']}".strip() if title else str(row["context"])
    return QAItem(str(row["id"]), str(row["question"]).strip(), tuple(row["answers"]), context)


def score_answer(output: str, aliases: Sequence[str]) -> dict[str, float]:
    answer = first_line(output)
    return {
        "em": exact_match(answer, aliases),
        "f1": token_f1(answer, aliases),
        "contains": alias_contained(answer, aliases),
    }


def fit_context(model: ModelBackend, context: str, question: str, max_new_tokens: int) -> tuple[str, bool]:
    """The context cut by tokens so the open-book prompt fits `context_length - max_new_tokens`."""
    budget = model.context_length - max_new_tokens - model.count_tokens(open_prompt("", question)) - 2
    if budget <= 0:
        return "", bool(context)
    if model.count_tokens(context) <= budget:
        return context, False
    cut = model.truncate(context, budget)
    while (
        budget > 0 and model.count_tokens(open_prompt(cut, question)) > model.context_length - max_new_tokens
    ):
        budget -= 4  # re-tokenizing the cut text can merge differently at its end
        cut = model.truncate(context, budget)
    return cut, True


class ICRQA(CachedSamples):
    judge_kind: str | None = None
    primary_metric = "f1"
    lower_is_better = frozenset({"empty_rate", "truncation_rate"})

    def __init__(self, book: str, config: ICRQAConfig) -> None:
        if book not in ("closed", "open"):
            raise SpecError(f"icrqa: book must be closed or open, got {book!r}")
        self.book = book
        self.name = f"icrqa-{book}"
        self.config = config
        self.source = rows.resolve("icrqa", config.data, smoke=SMOKE_DIR / "icrqa.jsonl")

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        got = rows.read("icrqa", self.source, "test")
        self.source = got.source
        chosen = select([qa_item(r) for r in got.rows], self.config.limit, self.config.seed)
        out = []
        for it in chosen:
            ctx = it.context[: self.config.max_context_chars] if self.config.max_context_chars else it.context
            prompt = closed_prompt(it.question) if self.book == "closed" else open_prompt(ctx, it.question)
            out.append(
                Sample(it.id, prompt, list(it.answers), meta={"question": it.question, "context": ctx})
            )
        return out

    def settings(self) -> Mapping[str, Any]:
        self.samples()  # resolves the source digest
        return {
            "source": self.source.as_dict(),
            "book": self.book,
            "prompt": CLOSED if self.book == "closed" else OPEN,
            "decoding": {"greedy": True, "max_new_tokens": self.config.max_new_tokens, "keep": "first line"},
            "context": "title + newline + passage; truncated by tokens to fit context_length - max_new_tokens"
            + (
                f"; first cut to {self.config.max_context_chars} chars"
                if self.config.max_context_chars
                else ""
            ),
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(self.samples()),
        }

    def predict(self, model: ModelBackend, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        prompts, extras = [], []
        for s in samples:
            if self.book == "open":
                ctx, cut = fit_context(
                    model, s.meta["context"], s.meta["question"], self.config.max_new_tokens
                )
                prompts.append(open_prompt(ctx, s.meta["question"]))
                extras.append({"truncated": cut, "context_tokens": model.count_tokens(ctx)})
            else:
                prompts.append(s.prompt)
                extras.append({"truncated": False})
        outs = model.generate(
            prompts, max_new_tokens=self.config.max_new_tokens, stop_at_newline=True, batch_size=batch_size
        )
        return [Prediction(s.id, first_line(o), e) for s, o, e in zip(samples, outs, extras, strict=True)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return score_answer(prediction.output, sample.reference)

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        out: dict[str, Any] = {m: mean(r.scores.get(m, 0.0) for r in records) for m in METRICS}
        out["empty_rate"] = mean(float(not r.output.strip()) for r in records)
        out["truncation_rate"] = mean(float(bool(r.extra.get("truncated"))) for r in records)
        return out


def closed_open_gain(closed: Sequence[Record], open_: Sequence[Record], metric: str = "f1") -> dict[str, Any]:
    """Per-question open-minus-closed gain on `metric` over the questions both tasks scored."""
    c = {r.sample_id: r.scores[metric] for r in closed if r.error is None and metric in r.scores}
    o = {r.sample_id: r.scores[metric] for r in open_ if r.error is None and metric in r.scores}
    common = sorted(set(c) & set(o))
    gains = {q: o[q] - c[q] for q in common}
    return {
        "n": len(common),
        "mean_gain": mean(gains.values()),
        "helped": sum(1 for g in gains.values() if g > 0),
        "hurt": sum(1 for g in gains.values() if g < 0),
        "per_question": gains,
    }


def make_icrqa(book: str, **params: Any) -> ICRQA:
    return ICRQA(book, build_config(ICRQAConfig, params, owner=f"task icrqa-{book}"))


def make_icrqa_closed(**params: Any) -> ICRQA:
    """`icrqa-closed`: the question alone (what the model knows)."""
    return make_icrqa("closed", **params)


def make_icrqa_open(**params: Any) -> ICRQA:
    """`icrqa-open`: the question with its gold passage in context."""
    return make_icrqa("open", **params)
