"""The contracts between the core and plugins, as typing Protocols.

Plugins do not subclass anything: any object with these attributes works. Every member the
core reads is declared here; members listed in a Protocol's `__optional__` may be absent (the
core then uses the default given in their docstring). `Registry.create` checks the required
ones and names the plugin whose factory built an object that lacks one. The core never
imports torch; `CompressibleModel.module` is a `torch.nn.Module` typed as `Any` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from kick.batch_progress import ProgressFn
from kick.types import JudgeItem, Judgement, Prediction, Record, Sample


def required_members(protocol: type) -> list[str]:
    """The members an object must have to satisfy `protocol`: everything it and its Protocol
    bases declare (methods, properties, annotated attributes) except their `__optional__`."""
    names: list[str] = []
    optional: set[str] = set()
    for cls in protocol.__mro__:
        if cls in (object, Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        optional.update(cls.__dict__.get("__optional__", ()))
        for name in [*cls.__dict__.get("__annotations__", {}), *cls.__dict__]:
            if not name.startswith("_") and name not in names:
                names.append(name)
    return [n for n in names if n not in optional]


def optional_member(obj: Any, name: str, default: Any) -> Any:
    """An optional Protocol member of `obj`, or `default` when the plugin does not define it."""
    return getattr(obj, name, default)


ChatTurns = Sequence[str]
"""A conversation as alternating user/assistant texts, starting with a user turn."""


@runtime_checkable
class ModelBackend(Protocol):
    """A causal LM that can generate and score text, batched.

    The core itself only reads `info()`; tasks call the rest, so a model that cannot score
    choices (say) still runs tasks that only generate."""

    __optional__: ClassVar[tuple[str, ...]] = (
        "name", "context_length", "count_tokens", "truncate", "encode", "generate", "choice_logprobs",
        "loglikelihood", "token_nll", "reports_progress",
    )  # fmt: skip

    name: str
    reports_progress: bool
    """Optional (default False): `generate`, `choice_logprobs`, `loglikelihood` and `token_nll`
    take `progress=`, a callable told how many prompts (requests, windows) finished, as each
    batch does (`kick.batch_progress`). Without it, progress advances per chunk of samples."""

    @property
    def context_length(self) -> int:
        """Maximum number of tokens (prompt + generation) the model handles."""

    def info(self) -> Mapping[str, Any]:
        """Provenance: model id, revision, dtype, device, parameter count."""

    def count_tokens(self, text: str) -> int:
        """Number of tokens `text` encodes to (no special tokens)."""

    def truncate(self, text: str, max_tokens: int) -> str:
        """Keep the first `max_tokens` tokens of `text`."""

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no special tokens)."""

    def generate(
        self,
        prompts: Sequence[str | ChatTurns],
        *,
        max_new_tokens: int,
        stop_at_newline: bool = False,
        chat: bool = False,
        batch_size: int = 8,
        do_sample: bool = False,
        temperature: float = 1.0,
        seed: int = 0,
        progress: ProgressFn | None = None,
    ) -> list[str]:
        """Continue each prompt; with `chat`, a prompt may be a list of turns."""

    def choice_logprobs(
        self,
        prompts: Sequence[str],
        choices: Sequence[str],
        *,
        prefix: str = "",
        batch_size: int = 8,
        progress: ProgressFn | None = None,
    ) -> list[list[float]]:
        """Log-probability of each choice as a continuation of prefix + prompt: the tokens of
        `context + choice` after those of `context`, summed (lm-evaluation-harness's split);
        an error when two choices tokenize to the same continuation.

        `prefix` is shared by all prompts, so a backend may compute it once (KV cache).
        """

    def loglikelihood(
        self, requests: Sequence[tuple[str, str]], *, batch_size: int = 8, progress: ProgressFn | None = None
    ) -> list[tuple[float, int]]:
        """For each (context, continuation): summed log-probability and token count."""

    def token_nll(
        self, windows: Sequence[Sequence[int]], *, batch_size: int = 8, progress: ProgressFn | None = None
    ) -> list[tuple[float, int]]:
        """For each token window: summed negative log-likelihood of tokens 1..n and n-1."""


@runtime_checkable
class CompressibleModel(ModelBackend, Protocol):
    """A backend whose weights a compressor may change in place; `kick compress` calls `save`."""

    __optional__: ClassVar[tuple[str, ...]] = ("module", "tokenizer", "save")

    @property
    def module(self) -> Any:
        """The underlying `torch.nn.Module`."""

    @property
    def tokenizer(self) -> Any:
        """The underlying tokenizer (calibration encodes its texts with it)."""

    def save(self, path: str, *, dtype: str | None = None) -> None:
        """Write a folder that `AutoModelForCausalLM.from_pretrained` loads (`dtype`, when
        given, e.g. `bfloat16`: the floating-point tensors are written in that dtype)."""


@runtime_checkable
class Compressor(Protocol):
    """Changes a model's weights in place and reports what it measured.

    What a sweep varies (sparsity, pattern, bits) is declared when the compressor is registered:
    `register(name, factory, levels=("sparsity", "pattern"))`."""

    __optional__: ClassVar[tuple[str, ...]] = ("check", "save")

    name: str
    save: Any
    """Optional: `save(model, path, *, dtype=None)` writes the compressed model in the method's own
    format (kick_quant packs gptq/rtn weights); absent: `model.save(path)`; None: the method's
    layers exist only in memory and `kick compress` refuses it before any work."""

    def compress(self, model: CompressibleModel) -> Mapping[str, Any]:
        """Compress and return measured statistics (JSON-serialisable)."""

    def check(self, model: CompressibleModel) -> None:
        """Optional: raise SpecError when this compressor cannot compress `model` (an N:M
        pattern or group size that does not divide a layer's width). The runner calls it right
        after the model loads, before any evaluation, so a bad setting fails in seconds."""


@runtime_checkable
class Task(Protocol):
    """An evaluation: samples, how to query the model, how to score, how to aggregate.

    `judge_kind` is None for tasks scored without a judge, else the JudgeItem kind.
    `samples()` must return the same samples, in the same order, every time it is called; the
    runner calls it once per run.
    """

    __optional__: ClassVar[tuple[str, ...]] = (
        "primary_metric", "lower_is_better", "judge_overrides", "reports_progress", "chunk_size",
    )  # fmt: skip

    name: str
    judge_kind: str | None
    primary_metric: str | None
    """Optional (default None): the metric the report's headline and plots use."""
    lower_is_better: Sequence[str]
    """Optional (default ()): metrics where a lower value is better (perplexity, empty rate)."""
    judge_overrides: Mapping[str, Any] | None
    """Optional (default None): judge settings this task's protocol needs (e.g. `swap`,
    `temperature`), applied through the judge's `with_overrides`."""
    reports_progress: bool
    """Optional (default False): `predict` takes `progress=`, a callable told how many samples
    (fractions allowed) finished, as each batch does; without it the runner advances per chunk."""
    chunk_size: int
    """Optional (default 0): the fewest samples the runner passes to one `predict` call. The runner
    hands a task its samples in chunks of 4 x batch size and appends each chunk's records before
    the next, so a killed run loses at most a chunk; a task whose predict shares work across its
    samples (MMLU's k-shot header, computed once per call and subject) asks for longer chunks."""

    def settings(self) -> Mapping[str, Any]:
        """Data source/revision, decoding settings, prompt format: recorded in the report."""

    def samples(self) -> Sequence[Sample]:
        """The items to evaluate, after `limit` and seeded selection; ids unique."""

    def predict(
        self,
        model: ModelBackend,
        samples: Sequence[Sample],
        *,
        batch_size: int,
        progress: ProgressFn | None = None,
    ) -> list[Prediction]:
        """Query the model for `samples` (one Prediction each, in order; an error on the item).
        `progress` is passed only when the task declares `reports_progress`."""

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]:
        """Per-item metrics; a KickError here becomes the record's error."""

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]:
        """The task's metrics over its records without an error (means, rates, perplexity)."""


@runtime_checkable
class Judge(Protocol):
    """Grades answers; returns one Judgement per item, in order, never dropping one."""

    __optional__: ClassVar[tuple[str, ...]] = ("reference_answers", "bind_run_dir", "with_overrides")

    name: str

    def info(self) -> Mapping[str, Any]:
        """Judge model, endpoint (without secrets), templates: recorded in the report."""

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]:
        """One Judgement per item, same order and ids; a failure is a Judgement with an error."""

    def reference_answers(self) -> Mapping[str, Sequence[str]] | None:
        """Optional: the judge's own reference answers by sample id (a `references` file); None
        (or absent) means the sample's reference, else the dense model's answer, is used."""

    def bind_run_dir(self, run_dir: Path) -> None:
        """Optional: told which run directory it judges (where its reply cache may live)."""

    def with_overrides(self, overrides: Mapping[str, Any]) -> Judge:
        """Optional: this judge with some settings replaced for one task (`Task.judge_overrides`)."""


class Progress:
    """Progress events from the runner and the sweep; the CLI renders them with rich.

    This base class is silent: subclass it and override what you display. Keys are unique per
    bar (`variant/task`, prefixed with the cell id in a sweep); `total` is the bar's length."""

    def stage(self, text: str) -> None:
        """A phase starts (loading, compressing, saving): one line of text."""

    def start(self, key: str, text: str, total: int) -> None:
        """A bar `key` of `total` items starts, described by `text`."""

    def advance(self, key: str, n: float) -> None:
        """`n` more items of bar `key` are done (a fraction: part of an item, e.g. windows of a stream)."""

    def finish(self, key: str) -> None:
        """Bar `key` is complete."""

    def cell_done(self, cell: str, summary: Mapping[str, Any]) -> None:
        """A sweep cell (its id, e.g. `smollm2-135m/wanda-s0.5`) finished with this summary."""
