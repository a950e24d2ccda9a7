"""Fake plugins (no torch) for testing the core: a model, a task, a compressor, a judge."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kick.errors import SpecError
from kick.hookspecs import hookimpl
from kick.params import build_config
from kick.types import JudgeItem, Judgement, Prediction, Record, Sample

ANSWERS = {f"q{i}": f"answer {i}" for i in range(10)}


class FakeModel:
    """Answers question i with 'answer i'; once damaged, only even questions right."""

    name = "fake-model"
    context_length = 128

    def __init__(self) -> None:
        self.damaged_fraction = 0.0
        self.calls: list[int] = []

    def info(self) -> Mapping[str, Any]:
        return {"id": self.name, "revision": "r1"}

    def generate(self, prompts: Sequence[str], **kw: Any) -> list[str]:
        self.calls.append(len(prompts))
        out = []
        for p in prompts:
            i = int(p.split("q")[-1])
            wrong = self.damaged_fraction > 0 and i % 2 == 1
            out.append("wrong" if wrong else f"answer {i}")
        return out


@dataclass(frozen=True)
class FakeTaskConfig:
    limit: int | None = None
    seed: int = 0
    size: int = 10

    def __post_init__(self) -> None:
        if self.size < 1:
            raise SpecError("size must be at least 1")


class FakeTask:
    name = "fake-qa"
    judge_kind: str | None = None
    primary_metric = "accuracy"
    lower_is_better = ("wrongness",)

    def __init__(self, cfg: FakeTaskConfig) -> None:
        self.cfg = cfg

    def settings(self) -> Mapping[str, Any]:
        return {"data": "fake", "size": self.cfg.size}

    def samples(self) -> list[Sample]:
        n = min(self.cfg.size, self.cfg.limit or self.cfg.size)
        return [Sample(id=f"q{i}", prompt=f"question q{i}", reference=ANSWERS[f"q{i}"]) for i in range(n)]

    def predict(self, model: Any, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        outs = model.generate([s.prompt for s in samples], batch_size=batch_size)
        return [Prediction(s.id, o) for s, o in zip(samples, outs, strict=True)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        ok = float(prediction.output == sample.reference)
        return {"accuracy": ok, "wrongness": 1.0 - ok}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        if not records:
            return {"accuracy": None}
        acc = sum(r.scores["accuracy"] for r in records) / len(records)
        return {"accuracy": acc, "wrongness": 1.0 - acc}


class FakeJudgedTask(FakeTask):
    name = "fake-chat"
    judge_kind = "instruction"


@dataclass(frozen=True)
class FakeCompressorConfig:
    sparsity: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise SpecError(f"sparsity must be in [0, 1), got {self.sparsity}")


class FakeCompressor:
    name = "fake-prune"

    def __init__(self, cfg: FakeCompressorConfig) -> None:
        self.cfg = cfg

    def compress(self, model: Any) -> Mapping[str, Any]:
        model.damaged_fraction = self.cfg.sparsity
        return {"sparsity": self.cfg.sparsity, "zeros": 5}


class FakeJudge:
    name = "fake-judge"

    def info(self) -> Mapping[str, Any]:
        return {"judge": "fake"}

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        out = []
        for it in items:
            if it.answer[0] == "wrong":
                out.append(Judgement(it.sample_id, {"overall": 2.0, "overall_ref": 8.0}))
            else:
                out.append(Judgement(it.sample_id, {"overall": 8.0, "overall_ref": 8.0}))
        return out


class plugin:  # noqa: N801 - a plugin object, registered like a module
    @staticmethod
    @hookimpl
    def register_tasks(register: Any) -> None:
        register("fake-qa", lambda **p: FakeTask(build_config(FakeTaskConfig, p, owner="task fake-qa")))
        register("fake-chat", lambda **p: FakeJudgedTask(build_config(FakeTaskConfig, p, owner="task fake-chat")))

    @staticmethod
    @hookimpl
    def register_compressors(register: Any) -> None:
        register(
            "fake-prune",
            lambda **p: FakeCompressor(build_config(FakeCompressorConfig, p, owner="compressor fake-prune")),
        )

    @staticmethod
    @hookimpl
    def register_judges(register: Any) -> None:
        register("fake-judge", lambda **p: FakeJudge())

    @staticmethod
    @hookimpl
    def register_models(register: Any) -> None:
        register("fake-model", lambda spec: FakeModel())


def fake_plugins() -> Any:
    from kick.plugins import load_plugins

    return load_plugins(extra=[("fake", plugin)], eps=[])
