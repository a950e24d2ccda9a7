"""Evaluation progress advances per batch of generation / scoring (`kick.batch_progress`), not
once per chunk of samples; a backend or a task without `reports_progress` still runs, per chunk."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from support.tiny import tiny_llama

from kick import Ticker
from kick.evaluate import evaluate_task
from kick.interfaces import Progress
from kick.plugins import load_plugins
from kick.rundir import RecordStore
from kick.types import DENSE, ComponentSpec, ModelSpec, RunSpec
from kick.validate import build_components

N, BATCH = 12, 2  # the runner's chunk is 4 batches (8 samples): 2 chunks


class Sink(Progress):
    def __init__(self) -> None:
        self.advances: dict[str, list[float]] = defaultdict(list)

    def advance(self, key: str, n: float) -> None:
        if n:
            self.advances[key].append(n)


class NoProgressBackend:
    """The tiny model behind a backend that does not declare `reports_progress`."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        if name == "reports_progress":
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.fixture(scope="module")
def model() -> Any:
    return tiny_llama()


class Ready:
    """What `evaluate_task` asks of the runner's model slot: the model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def get(self) -> Any:
        return self.model


def _advances(model: Any, task: ComponentSpec, tmp_path: Path, limit: int | None = N) -> list[float]:
    """The progress advances of the runner's evaluation of one task (phase 3, as `run` does it)."""
    sink = Sink()
    spec = RunSpec(model=ModelSpec("tiny"), tasks=(task,), batch_size=BATCH, limit=limit)
    comps = build_components(spec, load_plugins())
    store = RecordStore(tmp_path / "records.jsonl")
    (built,) = comps.tasks
    evaluate_task(built, comps.samples[task.name], Ready(model), DENSE, store, BATCH, sink)  # type: ignore[arg-type]
    records = store.select(DENSE, task.name, [s.id for s in comps.samples[task.name]])
    assert len(records) == len(comps.samples[task.name]) and not any(r.error for r in records)
    return sink.advances[f"{DENSE}/{task.name}"]


@pytest.mark.parametrize(
    "task",
    [
        ComponentSpec("factoid-qa", {"max_new_tokens": 4}),  # generation, continuous batching
        ComponentSpec("factoid-qa", {"max_new_tokens": 4, "do_sample": True}),  # generation, hf generate
        ComponentSpec("mmlu", {"shots": 1}),  # choice scoring (single-token letters)
    ],
    ids=["generate-greedy", "generate-sampled", "choices"],
)
def test_progress_advances_about_once_per_batch(model: Any, task: ComponentSpec, tmp_path: Path) -> None:
    steps = _advances(model, task, tmp_path)
    assert sum(steps) == N
    # never more than a batch at a time (per chunk: [8, 4]); mmlu's batches are per subject, so
    # some hold one question
    assert max(steps) <= BATCH and len(steps) >= N // BATCH, steps


def test_perplexity_windows_advance_a_fraction_of_the_stream_per_batch(model: Any, tmp_path: Path) -> None:
    steps = _advances(model, ComponentSpec("perplexity", {"seqlen": 64}), tmp_path, limit=None)
    assert sum(steps) == pytest.approx(1.0)
    assert len(steps) > 2 and all(0 < s < 1 for s in steps), steps  # one sample, many window batches


def test_a_backend_without_the_callback_still_runs_advancing_per_chunk(model: Any, tmp_path: Path) -> None:
    steps = _advances(NoProgressBackend(model), ComponentSpec("factoid-qa", {"max_new_tokens": 4}), tmp_path)
    assert steps == [8, 4]


def test_ticker_scales_units_to_items_and_waits_for_a_batch() -> None:
    seen: list[float] = []
    t = Ticker(seen.append, units=8, items=2)  # 8 rows make 2 prompts
    for _ in range(8):
        t.add(1)
    assert sum(seen) == 2 and len(seen) == 8
    seen.clear()
    t = Ticker(seen.append, units=5, every=2)  # rows finishing one at a time, told per 2
    for _ in range(5):
        t.add(1)
    assert seen == [2, 2, 1]
    Ticker(None, units=3).add(3)  # no callback: nothing to tell
