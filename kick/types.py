"""Frozen, JSON-serialisable value types that travel between the core and the plugins."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from kick.errors import SpecError

Scalar = str | int | float | bool
Params = Mapping[str, Scalar]

DENSE, COMPRESSED = "dense", "compressed"
"""The two variants a run evaluates: the model as loaded, and after compression."""


def to_jsonable(obj: Any) -> Any:
    """Convert dataclasses, tuples and mappings into plain JSON-compatible structures."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    return obj


@dataclass(frozen=True)
class Sample:
    """One evaluation item as a task defines it.

    `prompt` is what the model is asked (already formatted); `reference` is whatever the
    task's metric compares against (aliases, an answer letter, a reference text); `choices`
    is set for choice-scored tasks; `meta` carries task-specific fields (subject, bucket ...)
    that only the task itself reads. For judged tasks, `turns` are the user turns a judge is
    shown (empty: the prompt itself) and `category` picks its template (e.g. MT-Bench math).
    """

    id: str
    prompt: str
    reference: Any = None
    choices: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    turns: tuple[str, ...] = ()
    category: str | None = None


@dataclass(frozen=True)
class Prediction:
    """What a task got from the model for one sample: text output and task-specific extras.
    A multi-turn task sets `answers`, the model's answer to each user turn (empty: `output`)."""

    sample_id: str
    output: str
    extra: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    answers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Record:
    """One line of records.jsonl: everything needed to audit or re-score one sample
    (`answers`: the model's turns of a multi-turn task, as in `Prediction`)."""

    variant: str
    task: str
    sample_id: str
    prompt: str
    output: str
    reference: Any
    scores: Mapping[str, float]
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    answers: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.variant, self.task, self.sample_id)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Record:
        return cls(
            variant=d["variant"],
            task=d["task"],
            sample_id=d["sample_id"],
            prompt=d.get("prompt", ""),
            output=d.get("output", ""),
            reference=d.get("reference"),
            scores=dict(d.get("scores") or {}),
            error=d.get("error"),
            extra=dict(d.get("extra") or {}),
            answers=tuple(str(a) for a in d.get("answers") or ()),
        )


@dataclass(frozen=True)
class JudgeItem:
    """One answer for a judge to grade.

    kind: "summarization" | "instruction" | "mt-bench" (the judge picks its template).
    `question` is the user turns (one for single-turn tasks); `answer` the model's turns;
    `reference` the answer to compare against (pairwise) or the reference solution
    (reference-guided single grading); may be None for plain single grading.
    """

    sample_id: str
    kind: str
    question: tuple[str, ...]
    answer: tuple[str, ...]
    reference: tuple[str, ...] | None = None
    category: str | None = None


@dataclass(frozen=True)
class Judgement:
    """A judge's verdict on one item: named scores, or an error with the raw reply kept."""

    sample_id: str
    scores: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    raw: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ComponentSpec:
    """A named component (compressor, task, judge) with its parameters, as the user gave them."""

    name: str
    params: Mapping[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSpec:
    """Which model to load and how."""

    name: str
    dtype: str = "float32"
    device: str = "cpu"
    revision: str | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    """Load a pickle checkpoint (`pytorch_model.bin`), which can run code: only when asked;
    otherwise safetensors only."""
    args: Mapping[str, Any] = field(default_factory=dict)
    """More keywords for the loader's `from_pretrained` (`--model-arg`, `kick.model_args`)."""


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines a run; stored in full in the run directory."""

    model: ModelSpec
    tasks: tuple[ComponentSpec, ...]
    compression: ComponentSpec | None = None
    judge: ComponentSpec | None = None
    include_dense: bool = True
    batch_size: int = 8
    limit: int | float | None = None
    """Items per task: a count, or a fraction of the task's items (a seeded random subset)."""
    seed: int = 0
    first: int | None = None
    """The first N items of each task in file order instead (excludes `limit`)."""

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)  # type: ignore[no-any-return]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RunSpec:
        comp = d.get("compression")
        judge = d.get("judge")
        return cls(
            model=ModelSpec(**d["model"]),
            tasks=tuple(ComponentSpec(t["name"], dict(t.get("params") or {})) for t in d["tasks"]),
            compression=ComponentSpec(comp["name"], dict(comp.get("params") or {})) if comp else None,
            judge=ComponentSpec(judge["name"], dict(judge.get("params") or {})) if judge else None,
            include_dense=bool(d.get("include_dense", True)),
            batch_size=int(d.get("batch_size", 8)),
            limit=d.get("limit"),
            seed=int(d.get("seed", 0)),
            first=d.get("first"),
        )


# ---- compression levels -------------------------------------------------------------------------
_PATTERN = re.compile(r"^\s*(\d+)\s*:\s*(\d+)\s*$")


def parse_pattern(text: str) -> tuple[int, int] | None:
    """'unstructured' -> None; 'N:M' -> (N, M) with 0 < N < M (N weights kept in every M).

    The one N:M parser: sweep levels, the pruning plugins and the report all use it."""
    if text.strip().lower() == "unstructured":
        return None
    match = _PATTERN.match(text)
    if not match:
        raise SpecError(f"pattern {text!r}: expected 'unstructured' or 'N:M' such as '2:4'")
    n, m = int(match.group(1)), int(match.group(2))
    if not 0 < n < m:
        raise SpecError(f"pattern {text!r}: N:M needs 0 < N < M (N weights kept in every group of M)")
    return n, m


LevelKind = Literal["sparsity", "pattern", "bits", "default"]


@dataclass(frozen=True)
class Level:
    """One compression level: unstructured sparsity, an N:M pattern, a bit width, or `default`
    (the compressor's own defaults). The parameter it sets is named like its kind."""

    kind: LevelKind
    value: float | str | int | None = None
    label: str = field(init=False, compare=False)
    """How tables and plots name the level: 50%, 2:4, 4-bit, default (derived; serialised)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", self._label())

    @property
    def param(self) -> str:
        return self.kind

    def _label(self) -> str:
        if self.kind == "sparsity":
            return f"{float(self.value):.0%}"  # type: ignore[arg-type]
        if self.kind == "pattern":
            return str(self.value)
        if self.kind == "bits":
            return f"{self.value}-bit"
        return "default"

    @property
    def slug(self) -> str:
        """A folder-name form: s0.5, 2of4, 4bit."""
        if self.kind == "sparsity":
            return f"s{float(self.value):g}"  # type: ignore[arg-type]
        if self.kind == "pattern":
            return str(self.value).replace(":", "of")
        return f"{self.value}bit" if self.kind == "bits" else "default"

    @property
    def sparsity(self) -> float | None:
        """The fraction of weights removed (N:M keeps N of every M); None for bit widths."""
        if self.kind == "sparsity":
            return float(self.value)  # type: ignore[arg-type]
        if self.kind == "pattern":
            nm = parse_pattern(str(self.value))
            return 1 - nm[0] / nm[1] if nm else 0.0
        return None

    def strength(self) -> float:
        """Larger = more compression, to order levels of one kind."""
        if self.kind == "bits":
            return -float(self.value)  # type: ignore[arg-type]
        return self.sparsity or 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "value": self.value, "label": self.label}

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Level:
        """The level a compressor ran at, from its parameters (a sweep cell sets exactly one)."""
        if params.get("pattern") and str(params["pattern"]).strip().lower() != "unstructured":
            return cls("pattern", str(params["pattern"]))
        if "sparsity" in params:
            return cls("sparsity", float(params["sparsity"]))
        if "bits" in params:
            return cls("bits", int(params["bits"]))
        return cls("default")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | None) -> Level:
        return cls(d["kind"], d.get("value")) if d else cls("default")
