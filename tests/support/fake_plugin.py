"""The one fake plugin (torch-free) that the core, runner, sweep, CLI and judge tests register.

`FakeModel` is a list of 40 weights. It answers a prompt ending in a number i with
``answer i | alive 0.9750 | mass 20.0000``: the answer is wrong for odd i once the model is
compressed, and the fraction of non-zero weights and their absolute sum ride along, so a task can
score correctness (fake-qa), surviving mass (fake-acc) or surviving weights (fake-ppl) from one
reply. `FAKE_DELAY` (seconds per prompt, env) slows it down so a test can kill a sweep midway.

Components (all names start with fake- except the two torch ones, which import torch only when used):
  tasks        fake-qa, fake-chat (judged), fake-acc, fake-ppl (lower is better), fake-judged,
               fake-instruct and fake-summary (judged, GOOD/BAD answers for the OpenAI server),
               tiny-ppl (perplexity from `token_nll`, for a real tiny Llama)
  compressors  fake-prune (claims a sparsity, leaves the weights), fake-magnitude, fake-first,
               fake-quant, fake-calibrated (seeded: its `seed` picks the weights it zeroes),
               torch-magnitude (a real nn.Module)
  judges       fake-judge (right 8, wrong 2, out of 8), fake-mass-judge (weight mass of both answers)
  models       fake-model

Register it with ``load_plugins(extra=[("fake", plugin)], eps=[])`` (the `plugins` fixture).
A child process can import it with ``tests`` on PYTHONPATH: ``from support.fake_plugin import plugin``.
"""

from __future__ import annotations

import math
import os
import random
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kick.errors import SpecError
from kick.hookspecs import hookimpl
from kick.params import build_config
from kick.types import JudgeItem, Judgement, Prediction, Record, Sample

N_WEIGHTS = 40
DENSE_WEIGHTS = tuple(((i * 37) % 41 - 20) / 10 for i in range(N_WEIGHTS))  # one of them is 0.0
ANSWERS = {f"q{i}": f"answer {i}" for i in range(10)}
_TRAILING_NUMBER = re.compile(r"(\d+)\s*$")

# ---- the model ----------------------------------------------------------------------------------


class Reply(NamedTuple):
    """A FakeModel reply read back: the answer text, the alive fraction, the weight mass."""

    answer: str
    alive: float
    mass: float


def read_reply(text: str) -> Reply:
    answer, alive, mass = text.split(" | ")
    return Reply(answer, float(alive.split()[1]), float(mass.split()[1]))


class FakeModel:
    """A list of weights that answers questions; see the module docstring for its replies."""

    name = "fake-model"
    context_length = 128

    def __init__(self, weights: Sequence[float] = DENSE_WEIGHTS) -> None:
        self.weights = list(weights)
        self.damaged_fraction = 0.0  # what fake-prune claims to have removed (the weights stay)
        self.calls: list[int] = []  # prompts per generate() call

    def info(self) -> Mapping[str, Any]:
        return {"id": self.name, "revision": "r1"}

    @property
    def compressed(self) -> bool:
        return self.damaged_fraction > 0 or self.weights != list(DENSE_WEIGHTS)

    def alive(self) -> float:
        return sum(1 for w in self.weights if w != 0) / len(self.weights)

    def mass(self) -> float:
        return sum(abs(w) for w in self.weights)

    def answer(self, prompt: str) -> str:
        m = _TRAILING_NUMBER.search(prompt)
        if m is None:
            return "answer"
        i = int(m.group(1))
        return "wrong" if self.compressed and i % 2 == 1 else f"answer {i}"

    def generate(self, prompts: Sequence[str], **kw: Any) -> list[str]:
        self.calls.append(len(prompts))
        time.sleep(float(os.environ.get("FAKE_DELAY", "0")) * len(prompts))
        return [f"{self.answer(p)} | alive {self.alive():.4f} | mass {self.mass():.4f}" for p in prompts]


def load_fake_model(spec: Any = None, plugins: Any = None) -> FakeModel:
    """The `fake-model` factory; also a sweep `model_loader` and a `run(model=...)` stand-in."""
    return FakeModel()


# ---- tasks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QATaskConfig:
    limit: int | None = None
    seed: int = 0
    size: int = 10

    def __post_init__(self) -> None:
        if self.size < 1:
            raise SpecError("size must be at least 1")


class QATask:
    """fake-qa: question q<i>, reference 'answer <i>'; accuracy, and wrongness (lower is better)."""

    name = "fake-qa"
    judge_kind: str | None = None
    primary_metric = "accuracy"
    lower_is_better = ("wrongness",)

    def __init__(self, cfg: QATaskConfig) -> None:
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
        ok = float(read_reply(prediction.output).answer == sample.reference)
        return {"accuracy": ok, "wrongness": 1.0 - ok}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        if not records:
            return {"accuracy": None}
        acc = sum(r.scores["accuracy"] for r in records) / len(records)
        return {"accuracy": acc, "wrongness": 1.0 - acc}


class ChatTask(QATask):
    """fake-chat: fake-qa, judged (instruction kind)."""

    name = "fake-chat"
    judge_kind = "instruction"


class MassTask:
    """fake-acc, accuracy-like: sample i of n is right while enough weight mass survives."""

    name = "fake-acc"
    judge_kind: str | None = None
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
        mass = read_reply(prediction.output).mass
        return {"acc": 1.0 if mass / 40.0 >= sample.reference * 0.9 else 0.0}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {"acc": sum(r.scores["acc"] for r in records) / len(records) if records else None}


class AlivePplTask(MassTask):
    """fake-ppl, perplexity-like (lower is better): 10 / the fraction of weights alive."""

    name = "fake-ppl"
    primary_metric = "ppl"
    lower_is_better = ("ppl",)

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return {"ppl": 10.0 / max(read_reply(prediction.output).alive, 0.05)}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {"ppl": sum(r.scores["ppl"] for r in records) / len(records) if records else None}


class DenseJudgedTask(MassTask):
    """fake-judged: no reference answers; the judge compares each compressed answer with the dense one."""

    name = "fake-judged"
    judge_kind = "instruction"
    primary_metric = "judge_overall_ratio"

    def samples(self) -> Sequence[Sample]:
        return [Sample(id=f"j{i}", prompt=f"j{i}") for i in range(self.n)]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return {}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {}


@dataclass
class GoodBadTask:
    """fake-instruct / fake-summary: answers say GOOD from a dense model and BAD once compressed (what
    the fake OpenAI server's `quality_reply` scores); `with_reference` gives each sample its own
    (mediocre, OK) reference answer."""

    name: str = "fake-instruct"
    judge_kind: str | None = "instruction"
    n: int = 3
    with_reference: bool = False
    category: str | None = None
    limit: int | None = None
    seed: int = 0

    def settings(self) -> Mapping[str, Any]:
        return {"n": self.n}

    def samples(self) -> Sequence[Sample]:
        n = min(self.n, self.limit) if self.limit else self.n
        return [
            Sample(
                id=f"q{i}",
                prompt=f"Question {i}: say something useful.",
                reference=f"OK reference answer {i}" if self.with_reference else None,
                turns=(f"Question {i}: say something useful.",),
                category=self.category,
            )
            for i in range(n)
        ]

    def predict(self, model: Any, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        word = "BAD" if model.compressed else "GOOD"
        return [Prediction(s.id, f"{word} answer to {s.id}") for s in samples]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return {"length": float(len(prediction.output))}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {"mean_length": sum(r.scores.get("length", 0.0) for r in records) / max(1, len(records))}


class TokenPplTask:
    """tiny-ppl: perplexity of fixed token windows through the model's `token_nll` (a real Llama)."""

    name = "tiny-ppl"
    judge_kind = None
    primary_metric = "ppl"
    lower_is_better = ("ppl",)

    def __init__(self, limit: int | None = None, seed: int = 0) -> None:
        self.n = limit or 4

    def settings(self) -> Mapping[str, Any]:
        return {}

    def samples(self) -> Sequence[Sample]:
        return [
            Sample(f"w{i}", "", reference=[(i * 7 + j * 3) % 64 for j in range(16)]) for i in range(self.n)
        ]

    def predict(self, model: Any, samples: Sequence[Sample], *, batch_size: int) -> list[Prediction]:
        res = model.token_nll([s.reference for s in samples])
        return [
            Prediction(s.id, "", extra={"nll": nll, "n": n}) for s, (nll, n) in zip(samples, res, strict=True)
        ]

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        return {"nll": prediction.extra["nll"] / prediction.extra["n"]}

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        return {"ppl": math.exp(sum(r.scores["nll"] for r in records) / len(records))}


# ---- compressors --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PruneConfig:
    sparsity: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise SpecError(f"sparsity must be in [0, 1), got {self.sparsity}")


class ClaimPrune:
    """fake-prune: marks the model compressed at `sparsity` without touching a weight."""

    name = "fake-prune"

    def __init__(self, cfg: PruneConfig) -> None:
        self.cfg = cfg

    def compress(self, model: FakeModel) -> Mapping[str, Any]:
        model.damaged_fraction = self.cfg.sparsity
        return {"sparsity": self.cfg.sparsity, "zeros": 5}


class Magnitude:
    """fake-magnitude: zeros the smallest |w| (a sparsity, or an n:m pattern)."""

    name = "fake-magnitude"

    def __init__(self, sparsity: float = 0.5, pattern: str | None = None) -> None:
        if not 0 <= sparsity < 1:
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


class FirstWeights(Magnitude):
    """fake-first: zeros the first weights (a worse pruner than magnitude)."""

    name = "fake-first"

    def compress(self, model: FakeModel) -> Mapping[str, Any]:
        k = int(round(self.sparsity * len(model.weights)))
        for i in range(k):
            model.weights[i] = 0.0
        return {"sparsity": 1 - model.alive()}


class Calibrated:
    """fake-calibrated, registered `seeded`: zeros `sparsity` of the weights, which ones drawn from
    `seed` (as a calibrated pruner's result depends on the calibration sample it draws)."""

    name = "fake-calibrated"

    def __init__(self, sparsity: float = 0.5, seed: int = 0) -> None:
        if not 0 <= sparsity < 1:
            raise SpecError(f"fake-calibrated: sparsity {sparsity} out of range")
        self.sparsity, self.seed = sparsity, seed

    def compress(self, model: FakeModel) -> Mapping[str, Any]:
        k = int(round(self.sparsity * len(model.weights)))
        zeroed = sorted(random.Random(self.seed).sample(range(len(model.weights)), k))
        for i in zeroed:
            model.weights[i] = 0.0
        return {"sparsity": 1 - model.alive(), "seed": self.seed, "zeroed": zeroed}


class Rounder:
    """fake-quant: rounds every weight to a grid of 2**bits steps."""

    name = "fake-quant"

    def __init__(self, bits: int = 8) -> None:
        self.bits = bits

    def compress(self, model: FakeModel) -> Mapping[str, Any]:
        step = 4.0 / (2**self.bits)
        model.weights[:] = [round(w / step) * step for w in model.weights]
        return {"bits": self.bits}


class TorchMagnitude:
    """torch-magnitude: per-linear magnitude pruning of a real module's decoder blocks."""

    name = "torch-magnitude"

    def __init__(self, sparsity: float) -> None:
        self.sparsity = sparsity

    def compress(self, model: Any) -> Mapping[str, Any]:
        import torch

        zeros = total = 0
        for block in model.module.model.layers:
            for lin in (m for m in block.modules() if isinstance(m, torch.nn.Linear)):
                w = lin.weight.data
                k = int(self.sparsity * w.numel())
                thresh = w.abs().flatten().kthvalue(k).values
                w[w.abs() <= thresh] = 0.0
                zeros += int((w == 0).sum())
                total += w.numel()
        return {"sparsity": zeros / total}


# ---- judges -------------------------------------------------------------------------------------


class RightWrongJudge:
    """fake-judge: a right answer scores 8 of 8, a wrong one 2 of 8."""

    name = "fake-judge"

    def info(self) -> Mapping[str, Any]:
        return {"judge": "fake"}

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        def overall(it: JudgeItem) -> float:
            return 2.0 if read_reply(it.answer[0]).answer == "wrong" else 8.0

        return [Judgement(it.sample_id, {"overall": overall(it), "overall_ref": 8.0}) for it in items]


class MassJudge:
    """fake-mass-judge: scores an answer by the weight mass it reports; the reference likewise."""

    name = "fake-mass-judge"

    def info(self) -> Mapping[str, Any]:
        return {"name": self.name}

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        return [
            Judgement(
                it.sample_id,
                scores={
                    "overall": read_reply(it.answer[0]).mass,
                    "overall_ref": read_reply(it.reference[0]).mass,
                },
            )
            for it in items
        ]


# ---- the plugin ---------------------------------------------------------------------------------


class FakePlugin:
    """Registers every fake above, the way a third-party plugin would."""

    @hookimpl
    def register_models(self, register: Any) -> None:
        register("fake-model", load_fake_model, description="a list of 40 weights")

    @hookimpl
    def register_tasks(self, register: Any) -> None:
        register("fake-qa", lambda **p: QATask(build_config(QATaskConfig, p, owner="task fake-qa")))
        register("fake-chat", lambda **p: ChatTask(build_config(QATaskConfig, p, owner="task fake-chat")))
        register("fake-acc", MassTask, description="accuracy-like")
        register("fake-ppl", AlivePplTask, description="perplexity-like")
        register("fake-judged", DenseJudgedTask, description="judged against the dense answer")
        register("fake-instruct", lambda **p: GoodBadTask(**p))
        register(
            "fake-summary", lambda **p: GoodBadTask(name="fake-summary", judge_kind="summarization", **p)
        )
        register("tiny-ppl", TokenPplTask, description="perplexity through token_nll")

    @hookimpl
    def register_compressors(self, register: Any) -> None:
        register(
            "fake-prune", lambda **p: ClaimPrune(build_config(PruneConfig, p, owner="compressor fake-prune"))
        )
        register(
            "fake-magnitude", Magnitude, description="zero the smallest |w|", levels=("sparsity", "pattern")
        )
        register(
            "fake-first", FirstWeights, description="zero the first weights", levels=("sparsity", "pattern")
        )
        register("fake-quant", Rounder, description="round to a grid", levels=("bits",))
        register(
            "fake-calibrated",
            Calibrated,
            description="zero weights drawn from its seed",
            levels=("sparsity",),
            seeded=True,
        )
        register(
            "torch-magnitude", TorchMagnitude, description="magnitude on a real module", levels=("sparsity",)
        )

    @hookimpl
    def register_judges(self, register: Any) -> None:
        register("fake-judge", lambda **p: RightWrongJudge())
        register("fake-mass-judge", MassJudge, description="weight mass")


plugin = FakePlugin()
