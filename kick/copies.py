"""The models a sweep hands its cells: fresh copies of the dense model (deep copy or reload,
whichever is faster and fits in memory), and the time spent in their forward-pass methods."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kick.sweep_spec import CopyMode


@dataclass
class Timings:
    """Seconds spent per activity; `overhead` is what the sweep machinery itself costs."""

    load: float = 0.0
    copy: float = 0.0
    compress: float = 0.0
    model_calls: float = 0.0
    total: float = 0.0

    @property
    def overhead(self) -> float:
        return max(0.0, self.total - self.load - self.copy - self.compress - self.model_calls)

    def as_dict(self) -> dict[str, float]:
        return {
            "load": self.load,
            "copy": self.copy,
            "compress": self.compress,
            "model_calls": self.model_calls,
            "overhead": self.overhead,
            "total": self.total,
        }


_MODEL_CALLS = ("generate", "choice_logprobs", "loglikelihood", "token_nll")


class TimedModel:
    """Forwards everything to the model and adds the time spent in its forward-pass methods."""

    def __init__(self, model: Any, timings: Timings) -> None:
        self._model = model
        self._timings = timings

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._model, name)
        if name not in _MODEL_CALLS or not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._timings.model_calls += time.perf_counter() - t0

        return timed


@contextmanager
def timed(timings: Timings, attr: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        setattr(timings, attr, getattr(timings, attr) + time.perf_counter() - t0)


def param_bytes(model: Any) -> int | None:
    module = getattr(model, "module", None)
    if module is None or not hasattr(module, "parameters"):
        return None
    return int(sum(p.numel() * p.element_size() for p in module.parameters()))


def available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def copy_fits(model_bytes: int | None, available: int | None) -> bool:
    """A second copy fits when it takes less than half the memory still available."""
    return model_bytes is None or available is None or 2 * model_bytes < available


class FreshModels:
    """Fresh copies of the dense model, one per cell: `copy` deep-copies the loaded model,
    `reload` loads it again. `auto` measures both on the first two cells and keeps the faster
    (a deep copy needs the memory for a second model; reloading a cached safetensors file is
    often as fast, e.g. SmolLM2-135M on 2 CPU cores: reload 0.4-0.8 s, deep copy 0.9-3.3 s)."""

    def __init__(self, base: Any, reload: Callable[[], Any], mode: CopyMode, *, fits: bool) -> None:
        self._base, self._reload = base, reload
        self.mode: CopyMode = "reload" if mode == "auto" and not fits else mode
        self.seconds: dict[str, float] = {}

    def take(self) -> Any:
        how: str = self.mode
        if how == "auto":
            untried = [h for h in ("copy", "reload") if h not in self.seconds]
            how = untried[0] if untried else min(self.seconds, key=self.seconds.__getitem__)
        t0 = time.perf_counter()
        model = copy.deepcopy(self._base) if how == "copy" else self._reload()
        self.seconds.setdefault(how, time.perf_counter() - t0)
        return model
