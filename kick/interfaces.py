"""The contracts between the core and plugins, as typing Protocols.

Plugins do not subclass anything: any object with these attributes works. The core never
imports torch; `CompressibleModel.module` is a `torch.nn.Module` typed as `Any` here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from kick.types import JudgeItem, Judgement, Prediction, Record, Sample

ChatTurns = Sequence[str]
"""A conversation as alternating user/assistant texts, starting with a user turn."""


@runtime_checkable
class ModelBackend(Protocol):
    """A causal LM that can generate and score text, batched."""

    name: str

    @property
    def context_length(self) -> int:
        """Maximum number of tokens (prompt + generation) the model handles."""

    def info(self) -> Mapping[str, Any]:
        """Provenance: model id, revision, dtype, device, parameter count."""

    def count_tokens(self, text: str) -> int: ...

    def truncate(self, text: str, max_tokens: int) -> str:
        """Keep the first `max_tokens` tokens of `text`."""

    def encode(self, text: str) -> list[int]: ...

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
    ) -> list[str]:
        """Continue each prompt; with `chat`, a prompt may be a list of turns."""

    def choice_logprobs(
        self,
        prompts: Sequence[str],
        choices: Sequence[str],
        *,
        prefix: str = "",
        batch_size: int = 8,
    ) -> list[list[float]]:
        """Next-token log-probabilities of each choice's first token after prefix + prompt.

        `prefix` is shared by all prompts, so a backend may compute it once (KV cache).
        """

    def loglikelihood(
        self, requests: Sequence[tuple[str, str]], *, batch_size: int = 8
    ) -> list[tuple[float, int]]:
        """For each (context, continuation): summed log-probability and token count."""

    def token_nll(self, windows: Sequence[Sequence[int]], *, batch_size: int = 8) -> list[tuple[float, int]]:
        """For each token window: summed negative log-likelihood of tokens 1..n and n-1."""


@runtime_checkable
class CompressibleModel(ModelBackend, Protocol):
    """A backend whose weights a compressor may change in place."""

    @property
    def module(self) -> Any:
        """The underlying `torch.nn.Module`."""

    @property
    def tokenizer(self) -> Any: ...

    def save(self, path: str) -> None:
        """Write a folder that `AutoModelForCausalLM.from_pretrained` loads."""


@runtime_checkable
class Compressor(Protocol):
    """Changes a model's weights in place and reports what it measured."""

    name: str

    def compress(self, model: CompressibleModel) -> Mapping[str, Any]:
        """Compress and return measured statistics (JSON-serialisable)."""


@runtime_checkable
class Task(Protocol):
    """An evaluation: samples, how to query the model, how to score, how to aggregate.

    `judge_kind` is None for tasks scored without a judge, else the JudgeItem kind.
    """

    name: str
    judge_kind: str | None

    def settings(self) -> Mapping[str, Any]:
        """Data source/revision, decoding settings, prompt format: recorded in the report."""

    def samples(self) -> Sequence[Sample]: ...

    def predict(
        self, model: ModelBackend, samples: Sequence[Sample], *, batch_size: int
    ) -> list[Prediction]: ...

    def score(self, sample: Sample, prediction: Prediction) -> Mapping[str, float]: ...

    def aggregate(self, records: Sequence[Record]) -> Mapping[str, Any]: ...


@runtime_checkable
class Judge(Protocol):
    """Grades answers; returns one Judgement per item, in order, never dropping one."""

    name: str

    def info(self) -> Mapping[str, Any]:
        """Judge model, endpoint (without secrets), templates: recorded in the report."""

    def judge(self, items: Sequence[JudgeItem]) -> list[Judgement]: ...


class Progress:
    """Progress events from the runner and the sweep; the CLI renders them with rich.

    This base class is silent: subclass it and override what you display. Keys are unique per
    bar (`variant/task`, prefixed with the cell id in a sweep); `total` is the bar's length."""

    def stage(self, text: str) -> None: ...

    def start(self, key: str, text: str, total: int) -> None: ...

    def advance(self, key: str, n: int) -> None: ...

    def finish(self, key: str) -> None: ...
