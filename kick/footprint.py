"""What an engineer choosing a compression compares beside the task scores, measured per variant.

* `weight_bytes`: bytes of the model's parameters and buffers in memory (quantized storage as
  stored), from the backend's optional `weight_bytes()`;
* `size_on_disk`: bytes of the weight files of the folder the model would ship as: the dense
  model's own folder; for a compressed variant the folder its compressor's `save` (or the
  model's) writes, saved to a temporary directory after the variant is evaluated; a checkpoint's
  own folder; None where the method cannot be saved (bitsandbytes layers);
* `bits_per_weight`: 8 * weight bytes / number of parameters;
* `generation`: tokens per second of greedy generation of `SPEED_TOKENS` new tokens for the
  fixed `SPEED_PROMPTS`, at batch 1 and 8 (tokens counted by re-encoding the outputs);
* `peak_rss_bytes`: the process's peak resident memory while the variant's tasks were evaluated
  (Linux: the peak is reset before, through /proc/self/clear_refs; elsewhere the lifetime peak).

The core imports no torch: everything goes through the backend and the compressor.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kick.batch_progress import progress_kwargs
from kick.interfaces import optional_member

SPEED_PROMPTS = (
    "The capital of France is",
    "Please give answer to this question: Who wrote Hamlet?\nThe answer is",
    "Water boils at a temperature of",
    "The three primary colors are",
    "In 1969, the first humans to walk on the Moon were",
    "A haiku is a short poem that",
    "The largest planet in the solar system is",
    "To make a cup of tea, first",
)
SPEED_TOKENS = 32
SPEED_BATCHES = (1, 8)


def _peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _hwm() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextmanager
def peak_memory() -> Iterator[dict[str, Any]]:
    """Peak RSS of the block: `{"peak_rss_bytes": ..., "reset": bool}` once it exits."""
    reset = False
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # resets VmHWM to the current RSS
        reset = True
    except OSError:
        pass
    out: dict[str, Any] = {}
    try:
        yield out
    finally:
        out["peak_rss_bytes"] = (_hwm() if reset else None) or _peak_rss()
        out["peak_reset"] = reset


def generation_speed(
    model: Any, progress: Any = None, key: str = "footprint", label: str = "generation speed"
) -> dict[str, Any] | None:
    """Tokens/s at batch 1 and 8 on SPEED_PROMPTS; None for a backend that cannot generate.
    `progress` (a `kick.interfaces.Progress`) shows one bar over both passes, advanced per batch
    where the backend reports progress, else per pass."""
    generate = optional_member(model, "generate", None)
    count = optional_member(model, "count_tokens", None)
    if not callable(generate) or not callable(count):
        return None
    out: dict[str, Any] = {"prompts": len(SPEED_PROMPTS), "max_new_tokens": SPEED_TOKENS}
    if progress is not None:
        progress.start(key, label, len(SPEED_PROMPTS) * len(SPEED_BATCHES))
    for batch in SPEED_BATCHES:
        told: list[float] = []

        def tick(n: float, told: list[float] = told) -> None:
            told.append(n)
            progress.advance(key, n)

        kw = progress_kwargs(model, tick if progress is not None else None)
        t0 = time.perf_counter()
        texts = generate(list(SPEED_PROMPTS), max_new_tokens=SPEED_TOKENS, batch_size=batch, **kw)
        seconds = time.perf_counter() - t0
        if progress is not None and not told:
            progress.advance(key, len(SPEED_PROMPTS))
        tokens = sum(int(count(t)) for t in texts)
        out[f"batch_{batch}"] = {"tokens": tokens, "seconds": seconds, "tokens_per_s": tokens / seconds}
    return out


def weight_files_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.suffix in (".safetensors", ".bin"))


def own_folder(model: Any) -> Path | None:
    """The local folder the model was loaded from, if any."""
    info = dict(model.info())
    for key in ("folder", "id"):
        value = info.get(key)
        if isinstance(value, str) and os.path.isdir(os.path.expanduser(value)):
            return Path(os.path.expanduser(value))
    return None


_ABSENT = object()


def can_save(compressor: Any) -> bool:
    """False for a compressor whose `save` is None (its layers exist only in memory)."""
    return optional_member(compressor, "save", _ABSENT) is not None


def save_compressed(compressor: Any, model: Any, out: Path, dtype: str | None = None) -> None:
    """Write a compressed model: the compressor's `save(model, path, dtype=)` when it has one
    (a packed format), else `model.save(path)`; `dtype` (e.g. bfloat16) passed only when given."""
    options = {"dtype": dtype} if dtype else {}
    save = optional_member(compressor, "save", _ABSENT)
    if save is _ABSENT or save is None:
        model.save(str(out), **options)
    else:
        save(model, str(out), **options)


def saved_size(model: Any, compressor: Any) -> int | None:
    """Bytes of weight files the compressed model is written as (saved to a temporary folder);
    None when it cannot be saved."""
    if not can_save(compressor) or not callable(optional_member(model, "save", None)):
        return None
    tmp = Path(tempfile.mkdtemp(prefix="kick-size-"))
    try:
        save_compressed(compressor, model, tmp)
        return weight_files_bytes(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def merge_footprints(
    measured: Mapping[str, Any],
    variants: list[str],
    dense_summary: Mapping[str, Any] | None,
    previous: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """The summary's `footprint` per variant: measured now, else the dense run's (a sweep
    cell), else the previous summary's (a resumed or re-judged run); None if never measured."""
    out: dict[str, Any] = {}
    for variant in ["dense", *[v for v in variants if v != "dense"]]:
        value = measured.get(variant)
        for source in (dense_summary if variant == "dense" else None, previous):
            if value is None and source:
                value = (source.get("footprint") or {}).get(variant)
        if value is not None or variant in variants:
            out[variant] = value
    return out


def footprint(
    model: Any,
    peak: Mapping[str, Any],
    *,
    compressor: Any = None,
    stats: Mapping[str, Any] | None = None,
    progress: Any = None,
    key: str = "footprint",
    label: str = "generation speed",
) -> dict[str, Any]:
    """One variant's footprint (see the module docstring); `compressor` None: the dense model.
    Speed is measured before the size, since saving a packed checkpoint packs the model."""
    weight_bytes = optional_member(model, "weight_bytes", None)
    info = dict(model.info())
    wb = int(weight_bytes()) if callable(weight_bytes) else None
    params = info.get("parameters")
    out: dict[str, Any] = {
        "weight_bytes": wb,
        "bits_per_weight": 8 * wb / params if wb and params else None,
        "generation": generation_speed(model, progress, key, label),
        **dict(peak),
    }
    if compressor is None:
        folder = own_folder(model)
        out["size_on_disk"] = weight_files_bytes(folder) if folder else None
    elif stats and isinstance(stats.get("size_on_disk"), Mapping):  # a checkpoint: its own folder
        out["size_on_disk"] = stats["size_on_disk"].get("weights_bytes")
    else:
        out["size_on_disk"] = saved_size(model, compressor)
    return out
