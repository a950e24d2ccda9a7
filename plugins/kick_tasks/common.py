"""What every task shares besides reading its data: the smoke-set folder, sample selection, the
limit check and the samples cache. Data (smoke set, shared raw data, a raw file, a built folder, a
Hub id) is resolved and read by `dataset_builder.rows`; see its docstring for the `data` values.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from kick import DataError, SpecError

SMOKE_DIR = Path(__file__).resolve().parent / "smoke"
T = TypeVar("T")


def select(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """All items, or a seeded random subset of `limit` items kept in source order."""
    if limit is None or limit >= len(items):
        return list(items)
    idx = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in idx]


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise SpecError(f"limit must be at least 1, got {limit}")


class CachedSamples:
    """Mixin: `samples()` is built once (the runner asks several times) and ids are checked."""

    _samples: list[Any] | None = None

    def _cached(self, build: Callable[[], list[Any]]) -> list[Any]:
        if self._samples is None:
            samples = build()
            ids = [s.id for s in samples]
            if len(set(ids)) != len(ids):
                raise DataError(f"{getattr(self, 'name', 'task')}: duplicate sample ids in the data")
            self._samples = samples
        return self._samples


# ---- protocol and decoding ---------------------------------------------------------------------
Protocol = Literal["kick", "paper"]
PROTOCOL_NOTE = {
    "kick": "kick's fixed protocol (the paper's intent, its defects fixed)",
    "paper": "the released LLM-KICK code's exact behaviour, defects included (for comparison with published numbers)",
}


@dataclass(frozen=True)
class Decoding:
    """How a generating task decodes: what `ModelBackend.generate` is given."""

    max_new_tokens: int
    do_sample: bool = False
    temperature: float = 1.0
    seed: int = 0

    def kwargs(self) -> dict[str, Any]:
        return {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "temperature": self.temperature,
            "seed": self.seed,
        }

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"greedy": not self.do_sample, "max_new_tokens": self.max_new_tokens}
        if self.do_sample:
            out.update({"temperature": self.temperature, "seed": self.seed})
        return out


@dataclass(frozen=True)
class GenerationParams:
    """Parameters every generating task takes. `protocol`: `kick` (default) or `paper`; the
    decoding parameters left unset (None) take the protocol's default. `seed` also seeds the
    sample selection."""

    protocol: Protocol = "kick"
    do_sample: bool | None = None
    temperature: float | None = None
    max_new_tokens: int | None = None
    seed: int = 0

    def check_generation(self, owner: str) -> None:
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise SpecError(f"{owner}: max_new_tokens must be at least 1, got {self.max_new_tokens}")
        if self.temperature is not None and not 0.0 < self.temperature <= 5.0:
            raise SpecError(f"{owner}: temperature must be in (0, 5], got {self.temperature}")

    def decoding(self, kick: Decoding, paper: Decoding | None = None) -> Decoding:
        """The protocol's default decoding with the parameters the user set on top."""
        base = paper if self.protocol == "paper" and paper is not None else kick
        do_sample = base.do_sample if self.do_sample is None else self.do_sample
        return Decoding(
            max_new_tokens=base.max_new_tokens if self.max_new_tokens is None else self.max_new_tokens,
            do_sample=do_sample,
            temperature=base.temperature if self.temperature is None else self.temperature,
            seed=self.seed,
        )


def prompt_tokens(model: Any, text: str) -> int:
    """Tokens of `text` as the backend feeds a plain prompt (special tokens such as BOS
    included when the model has a tokenizer to ask; else `count_tokens`)."""
    tok = getattr(model, "tokenizer", None)
    if tok is not None and callable(tok):
        return len(tok(text)["input_ids"])
    return int(model.count_tokens(text))
