"""What every task shares besides reading its data: the smoke-set folder, sample selection, the
limit check and the samples cache. Data (smoke set, shared raw data, a raw file, a built folder, a
Hub id) is resolved and read by `dataset_builder.rows`; see its docstring for the `data` values.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

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
