"""summarization: in-context summarization of CNN/DailyMail stories in small / mid / large buckets.

Prompt (paper): `Summarize the given story in less than 150 words while preserving high coherence,
consistency, fluency, and relevance.\\n\\n{story}`, answered with the chat template, greedy.
Fixes over the paper code: the `@highlight` lines are removed from the prompt and kept as human
references (`sample.meta["highlights"]`), paragraphs are joined with proper spacing, a story in
more than one bucket is kept only in the first (small, mid, large) and the removal is counted, and
prompts longer than `context_length - max_new_tokens` are counted (`overflow_rate`) and their story
cut by tokens (the instruction is kept). The paper's judge compared against GPT-3.5 summaries that
are missing from the data, so `sample.reference` is None: the judge compares against the dense
model's summary. Offline metric: ROUGE-L F1 (rouge-score, stemmed) against the joined highlights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from dataset_builder import readers, rows
from kick import ModelBackend, Prediction, Record, Sample, SpecError, build_config
from kick_tasks.common import SMOKE_DIR, CachedSamples, check_limit, select
from kick_tasks.metrics import mean, words

INSTRUCTION = (
    "Summarize the given story in less than 150 words while preserving high coherence, consistency, "
    "fluency, and relevance."
)
BUCKETS = rows.BUCKETS
_TEMPLATE_MARGIN = 32  # tokens reserved for the chat template around the prompt


@dataclass(frozen=True)
class Story:
    id: str
    bucket: str
    story: str
    highlights: tuple[str, ...]


@dataclass(frozen=True)
class SummarizationConfig:
    data: str = "smoke"
    bucket: Literal["small", "mid", "large", "all"] = "all"
    limit: int | None = None
    seed: int = 0
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        check_limit(self.limit)
        if self.max_new_tokens < 1:
            raise SpecError("summarization: max_new_tokens must be at least 1")


def build_prompt(story: str) -> str:
    return f"{INSTRUCTION}\n\n{story}"


def story(row: Mapping[str, Any]) -> Story:
    """A summarization schema row -> the task's story."""
    return Story(str(row["id"]), str(row["bucket"]), row["story"], tuple(row["highlights"]))


def curated(buckets: Mapping[str, Sequence[readers.Story]]) -> tuple[list[Story], int]:
    """Raw stories per bucket -> task stories (dataset_builder's curation: paragraphs separated by
    a blank line, each story kept in its first bucket only) and the number of duplicates removed."""
    kept, removed = rows.curate_stories(buckets)
    return [story(r) for r in kept], removed


def rouge_l(prediction: str, references: Sequence[str]) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return (
        float(scorer.score(" ".join(references), prediction)["rougeL"].fmeasure)
        if prediction.strip()
        else 0.0
    )


class Summarization(CachedSamples):
    name = "summarization"
    judge_kind: str | None = "summarization"
    primary_metric = "rougeL"
    lower_is_better = frozenset({"overflow_rate"})

    def __init__(self, config: SummarizationConfig) -> None:
        self.config = config
        self.source = rows.resolve("summarization", config.data, smoke=SMOKE_DIR / "summarization.jsonl")
        self.duplicates_removed = 0

    def _load(self) -> list[Story]:
        got = rows.read("summarization", self.source, "test")
        self.source, self.duplicates_removed = got.source, got.removed
        return [story(r) for r in got.rows]

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        stories = self._load()
        if self.config.bucket != "all":
            stories = [s for s in stories if s.bucket == self.config.bucket]
        chosen = select(stories, self.config.limit, self.config.seed)
        return [
            Sample(
                id=f"{s.bucket}-{s.id}",
                prompt=build_prompt(s.story),
                reference=None,
                meta={"bucket": s.bucket, "highlights": list(s.highlights), "story": s.story},
            )
            for s in chosen
        ]

    def settings(self) -> Mapping[str, Any]:
        samples = self.samples()
        return {
            "source": self.source.as_dict(),
            "bucket": self.config.bucket,
            "per_bucket": {b: sum(1 for s in samples if s.meta["bucket"] == b) for b in BUCKETS},
            "duplicates_removed": self.duplicates_removed,
            "prompt": INSTRUCTION + "\\n\\n{story}",
            "decoding": {"greedy": True, "chat_template": True, "max_new_tokens": self.config.max_new_tokens},
            "reference": "none in the data (GPT-3.5 summaries missing): the judge compares against the dense model",
            "offline_metric": "ROUGE-L F1 (rouge-score, stemmer) vs joined @highlight lines",
            "limit": self.config.limit,
            "seed": self.config.seed,
            "n": len(samples),
        }

    def fit(self, model: ModelBackend, sample: Sample) -> tuple[str, bool]:
        budget = model.context_length - self.config.max_new_tokens - _TEMPLATE_MARGIN
        if model.count_tokens(sample.prompt) <= budget:
            return sample.prompt, False
        room = budget - model.count_tokens(build_prompt(""))
        prompt = build_prompt(model.truncate(sample.meta["story"], max(0, room)))
        while room > 0 and model.count_tokens(prompt) > budget:  # re-tokenizing can merge differently
            room -= 4
            prompt = build_prompt(model.truncate(sample.meta["story"], max(0, room)))
        return prompt, True

    def predict(self, model: ModelBackend, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        fitted = [self.fit(model, s) for s in samples]
        outs = model.generate(
            [p for p, _ in fitted],
            max_new_tokens=self.config.max_new_tokens,
            chat=True,
            batch_size=batch_size,
        )
        return [
            Prediction(s.id, o.strip(), {"overflow": cut, "bucket": s.meta["bucket"]})
            for s, o, (_, cut) in zip(samples, outs, fitted, strict=True)
        ]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        n = len(words(prediction.output))
        return {
            "rougeL": rouge_l(prediction.output, sample.meta["highlights"]),
            "words": float(n),
            "under_150_words": float(0 < n < 150),
        }

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        out: dict[str, Any] = {
            k: mean(r.scores.get(k, 0.0) for r in records) for k in ("rougeL", "words", "under_150_words")
        }
        out["overflow_rate"] = mean(float(bool(r.extra.get("overflow"))) for r in records)
        for b in BUCKETS:
            rs = [r for r in records if r.extra.get("bucket") == b]
            if rs:
                out[f"rougeL/{b}"] = mean(r.scores.get("rougeL", 0.0) for r in rs)
        return out


def make_summarization(**params: Any) -> Summarization:
    return Summarization(build_config(SummarizationConfig, params, owner="task summarization"))
