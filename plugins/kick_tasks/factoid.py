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
from dataclasses import dataclass, replace
from typing import Any, Literal

from dataset_builder import curate, readers
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


def load_items(source: Source, split: str) -> list[tuple[str, str, list[str]]]:
    """(id, question, aliases of every parse); raw files are read and curated by dataset_builder."""
    if source.kind in ("built", "hub"):
        return [(str(r["id"]), str(r["question"]), list(r["answers"])) for r in load_schema_rows(source, split)]
    path = source.path
    if path.is_dir():
        cands = sorted(path.glob(f"FreebaseQA-{split}*.json")) or sorted(path.glob(f"FreebaseQA-{split}.tab"))
        if not cands:
            raise DataError(f"{path}: no FreebaseQA-{split} JSON or .tab file")
        path = cands[0]
    source.details["file"] = str(path)
    if path.suffix == ".tab":
        grouped = readers.group_freebaseqa_tab(readers.read_freebaseqa_tab(path), split)
        # the task's ids for the .tab release: `<file stem>-<index>`
        questions = [replace(q, question_id=f"{path.stem}-{i}") for i, q in enumerate(grouped)]
    else:
        questions = readers.read_freebaseqa_json(path)
    try:
        rows = curate.factoid_rows(questions)
    except DataError as e:  # a question without any answer name: the file is malformed
        raise DataError(f"{path}: {e}") from None
    return [(r["id"], r["question"], r["answers"]) for r in rows]


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
        self.source = resolve_source(
            config.data,
            smoke="factoid_qa.json",
            shared=f"freebaseqa/FreebaseQA-{config.split}.v1_1.json",
            config="factoid_qa",
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
            "decoding": {"greedy": True, "max_new_tokens": self.config.max_new_tokens, "stop": "first newline"},
            "metrics": list(METRICS),
            "primary_metric": self.primary_metric,
            "note": "kick metrics use the generation only; paper_contains_prompt is the paper's inflated metric",
        }

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        items = load_items(self.source, self.config.split)
        self.source = with_digest(self.source)
        chosen = select(items, self.config.limit, self.config.seed)
        return [
            Sample(id=qid, prompt=build_prompt(q), reference=aliases, meta={"question": q})
            for qid, q, aliases in chosen
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
