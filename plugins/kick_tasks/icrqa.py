"""icrqa-closed / icrqa-open: in-context retrieval-augmented QA over the same questions.

Prompts (paper): closed `Answer these questions:\\n\\nQ: {question}\\nA:`; open
`{context}\\n\\nBased on these texts, answer these questions:\\n\\nQ: {question}\\nA:`. Greedy,
32 new tokens, first line kept.

`protocol=kick` (default): official normalized EM and token F1 (max over aliases), an empty
answer scores 0 (the paper's two-way containment counted it correct), generation stops at the first
newline, the context is the title + newline + passage (TriviaQA: wiki + newline + web evidence),
not cut by characters (`max_context_chars`, 0) but by *tokens* to fit `context_length -
max_new_tokens` (rate reported as `truncation_rate`).

`protocol=paper` is the released `main_icrqa.py`: evidence = first wiki context + first web
context joined with nothing, cut to 3,072 characters, prompt `{context}\\n\\n{question prompt}`
stripped, 32 new tokens without a stop, the prediction is the generation stripped and then cut at
its first newline; `paper_em` is the two-way containment under TriviaQA normalization (an empty
prediction counts as correct), `paper_f1` its token F1 (primary: `paper_em`). kick's `em`, `f1`,
`contains` are computed on the same predictions. The token fit above still applies (the
released code never needed it: 3,072 characters fit its 2,048-token models).

icrqa-open also asks each question closed-book (`closed_open_gain=true`, default) and reports the
per-question gain on the primary metric: per record `closed_<metric>` and `closed_open_gain` (open
minus closed), aggregated as their means plus `gain_helped` / `gain_hurt` (share of questions the
passage helped / hurt). `closed_open_gain()` computes the same from two tasks' records.

Sources: NaturalQuestions-Open oracle jsonl (`ctxs[0]` title + text; the offline substitute, default
for `data=shared`), TriviaQA rc jsonl in the Hub schema (`entity_pages.wiki_context`,
`search_results.search_context`), SQuAD v1.1 json, or a built `icrqa_nq_open` config.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dataset_builder import rows
from kick import (
    ModelBackend,
    Prediction,
    ProgressFn,
    Record,
    Sample,
    SpecError,
    build_config,
    progress_kwargs,
    scaled,
)
from kick_tasks.common import (
    PROTOCOL_NOTE,
    SMOKE_DIR,
    CachedSamples,
    Decoding,
    GenerationParams,
    check_limit,
    select,
)
from kick_tasks.metrics import (
    alias_contained,
    exact_match,
    first_line,
    mean,
    paper_icrqa_em,
    paper_icrqa_f1,
    token_f1,
)

CLOSED = "Answer these questions:\n\nQ: {question}\nA:"
OPEN = "{context}\n\nBased on these texts, answer these questions:\n\nQ: {question}\nA:"
METRICS = ("em", "f1", "contains")
PAPER_METRICS = ("paper_em", "paper_f1", "em", "f1", "contains")
DECODING = Decoding(max_new_tokens=32)
PAPER_CONTEXT_CHARS = 3072


@dataclass(frozen=True)
class QAItem:
    id: str
    question: str
    answers: tuple[str, ...]
    context: str


@dataclass(frozen=True)
class ICRQAConfig(GenerationParams):
    data: str = "smoke"
    limit: int | None = None
    max_context_chars: int | None = None  # None: the protocol's (kick 0 = no cut, paper 3,072)
    closed_open_gain: bool = True  # icrqa-open: also ask closed-book, report the per-question gain

    def __post_init__(self) -> None:
        check_limit(self.limit)
        self.check_generation("icrqa")
        if self.max_context_chars is not None and self.max_context_chars < 0:
            raise SpecError("icrqa: max_context_chars must be >= 0")

    @property
    def context_chars(self) -> int:
        if self.max_context_chars is not None:
            return self.max_context_chars
        return PAPER_CONTEXT_CHARS if self.protocol == "paper" else 0


def closed_prompt(question: str) -> str:
    return CLOSED.format(question=question)


def open_prompt(context: str, question: str) -> str:
    return OPEN.format(context=context, question=question)


def paper_prompt(context: str, question: str, book: str) -> str:
    """The released prompt: `{context}\\n\\n{prompt_end}` stripped (closed-book: no context)."""
    if book == "closed":
        return f"\n\n{CLOSED.format(question=question)}".strip()
    end = OPEN.split("\n\n", 1)[1]
    return f"{context}\n\n{end.format(question=question)}".strip()


def qa_item(row: Mapping[str, Any], paper: bool = False) -> QAItem:
    """A normalized-schema row -> the task's item; the context is `title + newline + passage`
    (just the passage when the row has no title, as for TriviaQA rc evidence). Paper: TriviaQA's
    evidence pieces joined with nothing, as released."""
    title = row.get("context_title", "")
    context = f"{title}\n{row['context']}".strip() if title else str(row["context"])
    if paper and row.get("evidence"):
        context = "".join(str(e) for e in row["evidence"])
    question = str(row["question"]) if paper else str(row["question"]).strip()
    return QAItem(str(row["id"]), question, tuple(row["answers"]), context)


def score_answer(output: str, aliases: Sequence[str]) -> dict[str, float]:
    answer = first_line(output)
    return {
        "em": exact_match(answer, aliases),
        "f1": token_f1(answer, aliases),
        "contains": alias_contained(answer, aliases),
    }


def paper_answer(generation: str) -> str:
    """The released prediction: the generation stripped, then its first line."""
    return generation.strip().split("\n")[0]


def score_paper(output: str, aliases: Sequence[str]) -> dict[str, float]:
    answer = paper_answer(output)
    return {
        "paper_em": paper_icrqa_em(answer, aliases),
        "paper_f1": paper_icrqa_f1(answer, aliases),
        **score_answer(answer, aliases),
    }


def fit_context(
    model: ModelBackend, context: str, question: str, max_new_tokens: int, build: Any = open_prompt
) -> tuple[str, bool]:
    """The context cut by tokens so the open-book prompt `build(context, question)` fits
    `context_length - max_new_tokens`."""
    budget = model.context_length - max_new_tokens - model.count_tokens(build("", question)) - 2
    if budget <= 0:
        return "", bool(context)
    if model.count_tokens(context) <= budget:
        return context, False
    cut = model.truncate(context, budget)
    while budget > 0 and model.count_tokens(build(cut, question)) > model.context_length - max_new_tokens:
        budget -= 4  # re-tokenizing the cut text can merge differently at its end
        cut = model.truncate(context, budget)
    return cut, True


class ICRQA(CachedSamples):
    reports_progress = True  # predict takes progress= (kick.batch_progress)
    judge_kind: str | None = None
    lower_is_better = frozenset({"empty_rate", "truncation_rate", "gain_hurt"})

    def __init__(self, book: str, config: ICRQAConfig) -> None:
        if book not in ("closed", "open"):
            raise SpecError(f"icrqa: book must be closed or open, got {book!r}")
        self.book = book
        self.name = f"icrqa-{book}"
        self.config = config
        self.paper = config.protocol == "paper"
        self.primary_metric = "paper_em" if self.paper else "f1"
        self.metrics = PAPER_METRICS if self.paper else METRICS
        self.decoding = config.decoding(DECODING)
        self.gain = book == "open" and config.closed_open_gain
        self.source = rows.resolve("icrqa", config.data, smoke=SMOKE_DIR / "icrqa.jsonl")

    def prompt(self, context: str, question: str, book: str | None = None) -> str:
        book = book or self.book
        if self.paper:
            return paper_prompt(context, question, book)
        return closed_prompt(question) if book == "closed" else open_prompt(context, question)

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        got = rows.read("icrqa", self.source, "test")
        self.source = got.source
        items = [qa_item(r, self.paper) for r in got.rows]
        chosen = select(items, self.config.limit, self.config.seed)
        cut = self.config.context_chars
        out = []
        for it in chosen:
            ctx = it.context[:cut] if cut else it.context
            out.append(
                Sample(
                    it.id, self.prompt(ctx, it.question), list(it.answers),
                    meta={"question": it.question, "context": ctx},
                )
            )  # fmt: skip
        return out

    def settings(self) -> Mapping[str, Any]:
        self.samples()  # resolves the source digest
        cut = self.config.context_chars
        context = (
            "TriviaQA: first wiki + first web evidence joined with nothing; else title + newline + passage"
            if self.paper
            else "title + newline + passage"
        )
        return {
            "protocol": self.config.protocol,
            "protocol_note": PROTOCOL_NOTE[self.config.protocol],
            "source": self.source.as_dict(),
            "book": self.book,
            "prompt": ("{context}\\n\\n{prompt} stripped: " if self.paper else "")
            + (CLOSED if self.book == "closed" else OPEN),
            "decoding": {
                **self.decoding.as_dict(),
                "keep": "generation stripped, then its first line"
                if self.paper
                else "first line (stop at newline)",
            },
            "context": context
            + "; truncated by tokens to fit context_length - max_new_tokens"
            + (f"; first cut to {cut} chars" if cut else ""),
            "metrics": list(self.metrics),
            "primary_metric": self.primary_metric,
            "closed_open_gain": f"per question, open - closed on {self.primary_metric}"
            if self.gain
            else None,
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
        prompts: list[str] = []
        extras: list[dict[str, Any]] = []
        n_new = self.decoding.max_new_tokens
        for s in samples:
            if self.book == "open":
                q = s.meta["question"]
                ctx, cut = fit_context(model, s.meta["context"], q, n_new, lambda c, qq: self.prompt(c, qq))
                prompts.append(self.prompt(ctx, q))
                extras.append({"truncated": cut, "context_tokens": model.count_tokens(ctx)})
            else:
                prompts.append(s.prompt)
                extras.append({"truncated": False})
        passes = 2 if self.gain else 1  # the closed-book pass asks every question again
        outs = self._generate(model, prompts, batch_size, scaled(progress, 1 / passes))
        if self.gain:
            closed = self._generate(
                model, [self.prompt("", s.meta["question"], "closed") for s in samples], batch_size,
                scaled(progress, 1 / passes),
            )  # fmt: skip
            for e, c in zip(extras, closed, strict=True):
                e["closed_output"] = c
        return [Prediction(s.id, o, e) for s, o, e in zip(samples, outs, extras, strict=True)]

    def _generate(
        self, model: ModelBackend, prompts: Sequence[str], batch_size: int, progress: ProgressFn | None
    ) -> list[str]:
        outs = model.generate(
            prompts, stop_at_newline=not self.paper, batch_size=batch_size, **self.decoding.kwargs(),
            **progress_kwargs(model, progress),
        )  # fmt: skip
        return [o if self.paper else first_line(o) for o in outs]

    def _score(self, output: str, aliases: Sequence[str]) -> dict[str, float]:
        return score_paper(output, aliases) if self.paper else score_answer(output, aliases)

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        scores = self._score(prediction.output, sample.reference)
        closed = prediction.extra.get("closed_output")
        if self.gain and isinstance(closed, str):
            c = self._score(closed, sample.reference)[self.primary_metric]
            scores[f"closed_{self.primary_metric}"] = c
            scores["closed_open_gain"] = scores[self.primary_metric] - c
        return scores

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        out: dict[str, Any] = {m: mean(r.scores.get(m, 0.0) for r in records) for m in self.metrics}
        answer = paper_answer if self.paper else first_line
        out["empty_rate"] = mean(float(not answer(r.output)) for r in records)
        out["truncation_rate"] = mean(float(bool(r.extra.get("truncated"))) for r in records)
        gains = [r.scores["closed_open_gain"] for r in records if "closed_open_gain" in r.scores]
        if gains:
            closed_key = f"closed_{self.primary_metric}"
            out["closed_open_gain"] = mean(gains)
            out[closed_key] = mean(r.scores[closed_key] for r in records if closed_key in r.scores)
            out["gain_helped"] = mean(float(g > 0) for g in gains)
            out["gain_hurt"] = mean(float(g < 0) for g in gains)
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
