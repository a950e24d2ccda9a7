"""factoid-qa: FreebaseQA as LLM-KICK asks it, with the paper code's scoring defects fixed.

Prompt (paper): `Please give answer to this question: {question}\\nThe answer is `; greedy decoding,
the generation cut at its first newline. Fixes over the paper code: only the generated
continuation is matched (not prompt + generation), SQuAD-normalized, against every alias of every
parse, on the eval split, exactly N items. Metrics per sample:
  - `em`        normalized exact match with any alias;
  - `contains`  a normalized alias occurs (as whole words) in the normalized answer;
  - `paper_contains_prompt` the paper's original metric (alias, lower-cased and without spaces,
    is a substring of prompt + generation) -- inflated, for comparison with published numbers.
`metric_mode` picks which of them is the primary metric (default `contains`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dataset_builder import rows
from kick import ModelBackend, Prediction, Record, Sample, SpecError, build_config
from kick_tasks.common import SMOKE_DIR, CachedSamples, check_limit, select
from kick_tasks.metrics import alias_contained, exact_match, first_line, mean, paper_contains_prompt

PROMPT = "Please give answer to this question: {question}\nThe answer is "
METRICS = ("em", "contains", "paper_contains_prompt")


@dataclass(frozen=True)
class FactoidConfig:
    data: str = "smoke"
    split: str = "eval"
    limit: int | None = None
    seed: int = 0
    max_new_tokens: int = 24
    metric_mode: Literal["contains", "em", "paper_contains_prompt"] = "contains"

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.max_new_tokens < 1:
            raise SpecError(f"factoid-qa: max_new_tokens must be at least 1, got {self.max_new_tokens}")


def build_prompt(question: str) -> str:
    return PROMPT.format(question=question.strip())


def score_answer(prompt: str, output: str, aliases: Sequence[str]) -> dict[str, float]:
    answer = first_line(output)
    return {
        "em": exact_match(answer, aliases),
        "contains": alias_contained(answer, aliases),
        "paper_contains_prompt": paper_contains_prompt(prompt, answer, aliases),
    }


class FactoidQA(CachedSamples):
    name = "factoid-qa"
    judge_kind: str | None = None

    def __init__(self, config: FactoidConfig) -> None:
        self.config = config
        self.primary_metric = config.metric_mode
        self.source = rows.resolve(
            "factoid_qa", config.data, smoke=SMOKE_DIR / "factoid_qa.json", split=config.split
        )

    def settings(self) -> Mapping[str, Any]:
        self.samples()
        return {
            "source": self.source.as_dict(),
            "split": self.config.split,
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(self.samples()),
            "prompt": PROMPT,
            "decoding": {
                "greedy": True,
                "max_new_tokens": self.config.max_new_tokens,
                "stop": "first newline",
            },
            "metrics": list(METRICS),
            "primary_metric": self.primary_metric,
            "note": "kick metrics use the generation only; paper_contains_prompt is the paper's inflated metric",
        }

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        got = rows.read("factoid_qa", self.source, self.config.split)
        self.source = got.source
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

    def predict(self, model: ModelBackend, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        outs = model.generate(
            [s.prompt for s in samples],
            max_new_tokens=self.config.max_new_tokens,
            stop_at_newline=True,
            batch_size=batch_size,
        )
        return [Prediction(s.id, first_line(o)) for s, o in zip(samples, outs, strict=True)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return score_answer(sample.prompt, prediction.output, sample.reference)

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {m: mean(r.scores[m] for r in records if m in r.scores) for m in METRICS}


def make_factoid_qa(**params: Any) -> FactoidQA:
    return FactoidQA(build_config(FactoidConfig, params, owner="task factoid-qa"))
