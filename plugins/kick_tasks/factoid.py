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

import csv
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

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


def _dedupe(names: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for n in names:
        n = n.strip()
        if n and n.lower() not in {k.lower() for k in seen}:
            seen[n] = None
    return list(seen)


def parse_freebaseqa_json(obj: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(id, question, aliases of every parse) from the 2019 FreebaseQA JSON layout."""
    out = []
    for q in obj.get("Questions", []):
        names = [n for p in q.get("Parses", []) for a in p.get("Answers", []) for n in a.get("AnswersName", [])]
        out.append((str(q["Question-ID"]), str(q["RawQuestion"]), _dedupe(names)))
    return out


def parse_freebaseqa_tab(path: Path) -> list[tuple[str, str, list[str]]]:
    """(id, question, aliases) from the v1.1 `.tab` release: rows grouped by question text."""
    grouped: dict[str, list[str]] = {}
    with path.open(encoding="utf-8", newline="") as f:
        for n, row in enumerate(csv.reader(f, delimiter="\t"), 1):
            if not row:
                continue
            if len(row) != 8:
                raise DataError(f"{path}:{n}: expected 8 tab-separated fields, got {len(row)}")
            grouped.setdefault(row[7].strip(), []).append(row[6])
    return [(f"{path.stem}-{i}", q, _dedupe(a)) for i, (q, a) in enumerate(grouped.items())]


def load_items(source: Source, split: str) -> list[tuple[str, str, list[str]]]:
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
        return parse_freebaseqa_tab(path)
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise DataError(f"{path}: not JSON ({e})") from None
    return parse_freebaseqa_json(obj)


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
        items = [it for it in items if it[2]]  # a question without any answer cannot be scored
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
