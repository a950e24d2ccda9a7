"""factoid-qa: FreebaseQA as LLM-KICK asks it. Prompt (both protocols):
`Please give answer to this question: {question}\\nThe answer is `, greedy.

`protocol=kick` (default) fixes the released code's scoring defects: only the generated
continuation is matched (cut at its first newline, at most `max_new_tokens`=24 new tokens),
SQuAD-normalized, against every alias of every parse, on the eval split, a seeded random subset of
exactly `limit` items. Metrics per sample:
  - `em`        normalized exact match with any alias;
  - `contains`  a normalized alias occurs (as whole words) in the normalized answer;
  - `paper_contains_prompt` the paper's substring test (alias, lower-cased and without spaces, in
    prompt + the kick answer) against every alias -- inflated, a quick comparison only.
`metric_mode` picks the primary metric (default `contains`).

`protocol=paper` is the released `main_freebase.py`, defects included: `max_length = 3 x prompt
tokens` (prompt tokens counted with BOS, so 2 x prompt tokens new, capped by the context), no stop
but EOS, and `paper_match`: an alias of the *first parse only* (lower-cased, stripped, spaces
removed) is a substring of prompt + the whole generation -- so an alias in the question counts.
The first `limit` questions in file order (the released loop ran N+1 items and divided by N; this
runs exactly N). Deviations that cannot be helped here: the released code read the train split,
which is not available offline (the split is a parameter: eval by default); it took the first
parse's first `Answers` entry, kick its every entry (every parse in the FreebaseQA v1.1 files has
exactly one). `em` and `contains` are also computed on the first line of the generation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dataset_builder import rows
from kick import (
    DataError,
    ModelBackend,
    Prediction,
    ProgressFn,
    Record,
    Sample,
    SpecError,
    build_config,
    progress_kwargs,
)
from kick_tasks.common import (
    PROTOCOL_NOTE,
    SMOKE_DIR,
    CachedSamples,
    Decoding,
    GenerationParams,
    check_limit,
    prompt_tokens,
    select,
)
from kick_tasks.metrics import (
    alias_contained,
    exact_match,
    first_line,
    mean,
    paper_contains_prompt,
    paper_freebase_match,
)

PROMPT = "Please give answer to this question: {question}\nThe answer is "
METRICS = ("em", "contains", "paper_contains_prompt")
PAPER_METRICS = ("paper_match", "em", "contains")
KICK_DECODING = Decoding(max_new_tokens=24)


@dataclass(frozen=True)
class FactoidConfig(GenerationParams):
    data: str = "smoke"
    split: str = "eval"
    limit: int | None = None
    metric_mode: Literal["contains", "em", "paper_contains_prompt"] = "contains"

    def __post_init__(self) -> None:
        check_limit(self.limit)
        self.check_generation("factoid-qa")
        if self.protocol == "paper" and self.max_new_tokens is not None:
            raise SpecError(
                "factoid-qa: protocol=paper fixes max_length = 3 x prompt tokens; drop max_new_tokens"
            )


def build_prompt(question: str) -> str:
    return PROMPT.format(question=question.strip())


def score_answer(prompt: str, output: str, aliases: Sequence[str]) -> dict[str, float]:
    answer = first_line(output)
    return {
        "em": exact_match(answer, aliases),
        "contains": alias_contained(answer, aliases),
        "paper_contains_prompt": paper_contains_prompt(prompt, answer, aliases),
    }


def score_paper(
    prompt: str, generation: str, aliases: Sequence[str], first_parse: Sequence[str]
) -> dict[str, float]:
    """`paper_match` on prompt + the whole generation with the first parse's aliases; kick's
    `em` / `contains` on the generation's first line with every alias."""
    answer = first_line(generation)
    return {
        "paper_match": paper_freebase_match(prompt + generation, first_parse),
        "em": exact_match(answer, aliases),
        "contains": alias_contained(answer, aliases),
    }


def paper_new_tokens(n_prompt: int, context_length: int) -> int:
    """`max_length = 3 x prompt tokens` as new tokens, within the model's context."""
    return max(1, min(2 * n_prompt, context_length - n_prompt))


class FactoidQA(CachedSamples):
    name = "factoid-qa"
    reports_progress = True  # predict takes progress= (kick.batch_progress)
    judge_kind: str | None = None

    def __init__(self, config: FactoidConfig) -> None:
        self.config = config
        self.paper = config.protocol == "paper"
        self.primary_metric = "paper_match" if self.paper else config.metric_mode
        self.metrics = PAPER_METRICS if self.paper else METRICS
        self.decoding = config.decoding(KICK_DECODING)
        self.source = rows.resolve(
            "factoid_qa", config.data, smoke=SMOKE_DIR / "factoid_qa.json", split=config.split
        )

    def settings(self) -> Mapping[str, Any]:
        self.samples()
        decoding: dict[str, Any] = self.decoding.as_dict()
        if self.paper:
            decoding = {
                "greedy": not self.decoding.do_sample,
                "max_length": "3 x prompt tokens (BOS counted)",
                "stop": "EOS only",
            }
        else:
            decoding["stop"] = "first newline"
        return {
            "protocol": self.config.protocol,
            "protocol_note": PROTOCOL_NOTE[self.config.protocol],
            "source": self.source.as_dict(),
            "split": self.config.split,
            "limit": self.config.limit,
            "seed": self.config.seed,
            "selection": "first limit questions in file order" if self.paper else "seeded random subset",
            "n": len(self.samples()),
            "prompt": PROMPT,
            "decoding": decoding,
            "metrics": list(self.metrics),
            "primary_metric": self.primary_metric,
            "note": (
                "paper_match: first parse's aliases, substring of lower-cased space-free prompt + whole generation"
                if self.paper
                else "kick metrics use the generation only; paper_contains_prompt is the paper's inflated metric"
            ),
        }

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        got = rows.read("factoid_qa", self.source, self.config.split)
        self.source = got.source
        if self.paper:
            return self._build_paper(got.rows)
        chosen = select(got.rows, self.config.limit, self.config.seed)
        return [
            Sample(
                id=str(r["id"]),
                prompt=build_prompt(str(r["question"])),
                reference=list(r["answers"]),
                meta={"question": str(r["question"])},
            )
            for r in chosen
        ]

    def _build_paper(self, all_rows: Sequence[Mapping[str, Any]]) -> list[Sample]:
        """The first `limit` questions in file order, the raw question (not stripped), the first
        parse's aliases from the raw FreebaseQA file (a built dataset has merged them)."""
        if self.source.kind not in ("smoke", "raw"):
            raise DataError(
                "factoid-qa: protocol=paper needs a raw FreebaseQA JSON or .tab file (the parses); "
                f"a {self.source.kind} dataset keeps only the merged aliases"
            )
        file = Path(self.source.details.get("file", self.source.location))
        questions = rows.freebaseqa_questions(file, self.config.split)
        by_id = {str(r["id"]): r for r in all_rows}
        n = len(questions) if self.config.limit is None else self.config.limit
        out = []
        for q in questions[:n]:
            row = by_id.get(q.question_id)
            if row is None:
                raise DataError(f"factoid-qa: question {q.question_id} of {file} has no row")
            out.append(
                Sample(
                    id=q.question_id,
                    prompt=PROMPT.format(question=q.question),
                    reference=list(row["answers"]),
                    meta={"question": q.question, "first_parse_answers": list(q.parses[0].answer_names)},
                )
            )
        return out

    def predict(
        self,
        model: ModelBackend,
        samples: Sequence[Sample],
        *,
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[Prediction]:
        if self.paper:
            return self._predict_paper(model, samples, batch_size, progress)
        outs = model.generate(
            [s.prompt for s in samples], stop_at_newline=True, batch_size=batch_size, **self.decoding.kwargs(),
            **progress_kwargs(model, progress),
        )  # fmt: skip
        return [Prediction(s.id, first_line(o)) for s, o in zip(samples, outs, strict=True)]

    def _predict_paper(
        self, model: ModelBackend, samples: Sequence[Sample], batch_size: int, progress: ProgressFn | None
    ) -> list[Prediction]:
        """One generate call per distinct `max_new_tokens` (it depends on the prompt's length)."""
        budgets = [paper_new_tokens(prompt_tokens(model, s.prompt), model.context_length) for s in samples]
        outs: dict[int, str] = {}
        for budget in sorted(set(budgets)):
            idx = [i for i, b in enumerate(budgets) if b == budget]
            kw = {**self.decoding.kwargs(), "max_new_tokens": budget}
            for i, o in zip(
                idx,
                model.generate(
                    [samples[i].prompt for i in idx],
                    batch_size=batch_size,
                    **kw,
                    **progress_kwargs(model, progress),
                ),
                strict=True,
            ):
                outs[i] = o
        return [Prediction(s.id, outs[i], {"max_new_tokens": budgets[i]}) for i, s in enumerate(samples)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        if self.paper:
            return score_paper(
                sample.prompt, prediction.output, sample.reference, sample.meta["first_parse_answers"]
            )
        return score_answer(sample.prompt, prediction.output, sample.reference)

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {m: mean(r.scores[m] for r in records if m in r.scores) for m in self.metrics}


def make_factoid_qa(**params: Any) -> FactoidQA:
    return FactoidQA(build_config(FactoidConfig, params, owner="task factoid-qa"))
