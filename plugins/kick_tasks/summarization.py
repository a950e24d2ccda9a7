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

import hashlib
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
    sha256_tree,
)
from kick_tasks.metrics import mean, words

INSTRUCTION = (
    "Summarize the given story in less than 150 words while preserving high coherence, consistency, "
    "fluency, and relevance."
)
BUCKETS = ("small", "mid", "large")
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


def parse_story(text: str) -> tuple[str, list[str]]:
    """(story body without @highlight lines, paragraphs joined by blank lines; highlights)."""
    body: list[str] = []
    highlights: list[str] = []
    take_next = False
    for line in text.replace("\r\n", "\n").split("\n"):
        line = line.strip()
        if not line:
            continue
        if line == "@highlight":
            take_next = True
            continue
        if take_next:
            highlights.append(line)
            take_next = False
        else:
            body.append(line)
    return "\n\n".join(body), highlights


def build_prompt(story: str) -> str:
    return f"{INSTRUCTION}\n\n{story}"


def _fingerprint(story: str) -> str:
    return hashlib.sha256(" ".join(story.lower().split()).encode()).hexdigest()


def dedupe_across_buckets(stories: Sequence[Story]) -> tuple[list[Story], int]:
    """Keep each story (same id or same normalized text) in its first bucket only, in bucket order."""
    order = {b: i for i, b in enumerate(BUCKETS)}
    ranked = sorted(enumerate(stories), key=lambda p: (order.get(p[1].bucket, 99), p[0]))
    seen_ids: set[str] = set()
    seen_text: set[str] = set()
    kept: list[tuple[int, Story]] = []
    for i, s in ranked:
        fp = _fingerprint(s.story)
        if s.id in seen_ids or fp in seen_text:
            continue
        seen_ids.add(s.id)
        seen_text.add(fp)
        kept.append((i, s))
    kept.sort(key=lambda p: p[0])
    return [s for _, s in kept], len(stories) - len(kept)


def read_story_folder(path: Path) -> list[Story]:
    """`<path>/{small,mid,large}/*.story` (or `<path>/selected_stories/...`)."""
    base = path / "selected_stories" if (path / "selected_stories").is_dir() else path
    out = []
    for bucket in BUCKETS:
        for f in sorted((base / bucket).glob("*.story")):
            body, hl = parse_story(f.read_text(encoding="utf-8"))
            out.append(Story(f.stem, bucket, body, tuple(hl)))
    if not out:
        raise DataError(f"{path}: no {{small,mid,large}}/*.story files")
    return out


def read_story_jsonl(path: Path) -> list[Story]:
    """Smoke layout: one JSON per line {id, bucket, text} where text has @highlight lines."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            body, hl = parse_story(r["text"])
            out.append(Story(str(r["id"]), r["bucket"], body, tuple(hl)))
    return out


def rouge_l(prediction: str, references: Sequence[str]) -> float:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    return float(scorer.score(" ".join(references), prediction)["rougeL"].fmeasure) if prediction.strip() else 0.0


class Summarization(CachedSamples):
    name = "summarization"
    judge_kind: str | None = "summarization"
    primary_metric = "rougeL"

    def __init__(self, config: SummarizationConfig) -> None:
        self.config = config
        self.source = resolve_source(
            config.data, smoke="summarization.jsonl", shared="cnn_dm_summarization", config="summarization_small"
        )
        self.duplicates_removed = 0

    def _load(self) -> list[Story]:
        src = self.source
        if src.kind in ("built", "hub"):
            out = []
            for b in BUCKETS:
                cfg = Source(src.kind, src.location, src.digest, {**src.details, "config": f"summarization_{b}"})
                out += [Story(str(r["id"]), b, r["story"], tuple(r["highlights"])) for r in load_schema_rows(cfg, "test")]
            return out
        if src.path.is_dir():
            stories = read_story_folder(src.path)
            self.source = Source(src.kind, src.location, sha256_tree(src.path, list(src.path.rglob("*.story"))), src.details)
            return stories
        self.source = Source(src.kind, src.location, sha256_tree(src.path), src.details)
        return read_story_jsonl(src.path)

    def samples(self) -> list[Sample]:
        return self._cached(self._build)

    def _build(self) -> list[Sample]:
        stories, self.duplicates_removed = dedupe_across_buckets(self._load())
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
            [p for p, _ in fitted], max_new_tokens=self.config.max_new_tokens, chat=True, batch_size=batch_size
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
        out: dict[str, Any] = {k: mean(r.scores.get(k, 0.0) for r in records) for k in ("rougeL", "words", "under_150_words")}
        out["overflow_rate"] = mean(float(bool(r.extra.get("overflow"))) for r in records)
        for b in BUCKETS:
            rs = [r for r in records if r.extra.get("bucket") == b]
            if rs:
                out[f"rougeL/{b}"] = mean(r.scores.get("rougeL", 0.0) for r in rs)
        return out


def make_summarization(**params: Any) -> Summarization:
    return Summarization(build_config(SummarizationConfig, params, owner="task summarization"))
