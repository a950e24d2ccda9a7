"""A torch-free fake plugin for sweep tests: a model that is a list of weights, two pruners,
a quantizer, two tasks (one higher-is-better, one lower-is-better) whose scores depend on the
weights. Importable by a child process from PYTHONPATH.

`FAKE_DELAY` (seconds per sample, env) slows predictions down so a test can kill a sweep midway.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from kick.hookspecs import hookimpl
from kick.types import Prediction, Record, Sample

N_WEIGHTS = 40


class FakeModel:
    def __init__(self, weights: list[float]) -> None:
        self.weights = weights
        self.calls = 0

    def info(self) -> Mapping[str, Any]:
        return {"id": "fake", "parameters": len(self.weights)}

    def alive(self) -> float:
        return sum(1 for w in self.weights if w != 0) / len(self.weights)

    def generate(self, prompts: Sequence[str], **kw: Any) -> list[str]:
        self.calls += 1
        time.sleep(float(os.environ.get("FAKE_DELAY", "0")) * len(prompts))
        return [f"{p}:{self.alive():.4f}:{sum(abs(w) for w in self.weights):.4f}" for p in prompts]


def load_fake(spec: Any) -> FakeModel:
    return FakeModel([((i * 37) % 41 - 20) / 10 for i in range(N_WEIGHTS)])


class Magnitude:
    name = "fake-magnitude"

    def __init__(self, sparsity: float = 0.5, pattern: str | None = None) -> None:
        if not 0 <= sparsity < 1:
            from kick.errors import SpecError

            raise SpecError(f"fake-magnitude: sparsity {sparsity} out of range")
        self.sparsity = sparsity
        self.pattern = pattern

    def compress(self, model: FakeModel) -> Mapping[str, Any]:
        w = model.weights
        if self.pattern:
            n, m = (int(x) for x in self.pattern.split(":"))
            for g in range(0, len(w), m):
                group = sorted(range(g, g + m), key=lambda i: abs(w[i]))
                for i in group[: m - n]:
                    w[i] = 0.0
        else:
            k = int(round(self.sparsity * len(w)))
            for i in sorted(range(len(w)), key=lambda i: abs(w[i]))[:k]:
                w[i] = 0.0
        return {"sparsity": 1 - model.alive()}


class EveryOther(Magnitude):
    """Zeros the first weights (a worse pruner than magnitude)."""

    name = "fake-first"

    def compress(self, model: FakeModel) -> Mapping[str, Any]:
        k = int(round(self.sparsity * len(model.weights)))
        for i in range(k):
            model.weights[i] = 0.0
        return {"sparsity": 1 - model.alive()}


class Rounder:
    name = "fake-quant"

    def __init__(self, bits: int = 8) -> None:
        self.bits = bits

    def compress(self, model: FakeModel) -> Mapping[str, Any]:
        step = 4.0 / (2**self.bits)
        model.weights[:] = [round(w / step) * step for w in model.weights]
        return {"bits": self.bits}


class ScoreTask:
    """Accuracy-like: a sample is right when enough weight mass survives."""

    name = "fake-acc"
    judge_kind = None
    primary_metric = "acc"
    lower_is_better: tuple[str, ...] = ()

    def __init__(self, limit: int | None = None, seed: int = 0) -> None:
        self.n = limit or 6

    def settings(self) -> Mapping[str, Any]:
        return {"n": self.n}

    def samples(self) -> Sequence[Sample]:
        return [Sample(id=f"q{i}", prompt=f"q{i}", reference=(i + 1) / (self.n + 1)) for i in range(self.n)]

    def predict(self, model: Any, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        outs = model.generate([s.prompt for s in samples], max_new_tokens=4)
        return [Prediction(s.id, o) for s, o in zip(samples, outs, strict=True)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        mass = float(prediction.output.split(":")[2])
        return {"acc": 1.0 if mass / 40.0 >= sample.reference * 0.9 else 0.0}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {"acc": sum(r.scores["acc"] for r in records) / len(records) if records else None}


class PplTask(ScoreTask):
    name = "fake-ppl"
    primary_metric = "ppl"
    lower_is_better = ("ppl",)

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        alive = float(prediction.output.split(":")[1])
        return {"ppl": 10.0 / max(alive, 0.05)}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {"ppl": sum(r.scores["ppl"] for r in records) / len(records) if records else None}


@hookimpl
def register_models(register: Any) -> None:
    register("fake-model", load_fake, description="a list of 40 weights")


@hookimpl
def register_compressors(register: Any) -> None:
    register("fake-magnitude", Magnitude, description="zero the smallest |w|", levels=("sparsity", "pattern"))
    register("fake-first", EveryOther, description="zero the first weights", levels=("sparsity", "pattern"))
    register("fake-quant", Rounder, description="round to a grid", levels=("bits",))


@hookimpl
def register_tasks(register: Any) -> None:
    register("fake-acc", ScoreTask, description="accuracy-like")
    register("fake-ppl", PplTask, description="perplexity-like")
    register("fake-judged", JudgedTask, description="judged against the dense answer")


class JudgedTask(ScoreTask):
    """No reference answers: the judge compares each compressed answer with the dense one."""

    name = "fake-judged"
    judge_kind = "instruction"
    primary_metric = "judge_overall_ratio"

    def samples(self) -> Sequence[Sample]:
        return [Sample(id=f"j{i}", prompt=f"j{i}") for i in range(self.n)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return {}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {}


class LengthJudge:
    """Scores an answer by its weight mass; the reference (dense) answer likewise."""

    name = "fake-judge"

    def info(self) -> Mapping[str, Any]:
        return {"name": self.name}

    def judge(self, items: Sequence[Any]) -> list[Any]:
        from kick.types import Judgement

        def mass(text: str) -> float:
            return float(text.split(":")[2])

        return [
            Judgement(
                it.sample_id, scores={"overall": mass(it.answer[0]), "overall_ref": mass(it.reference[0])}
            )
            for it in items
        ]


@hookimpl
def register_judges(register: Any) -> None:
    register("fake-judge", LengthJudge, description="weight mass")
