"""The shared compression flow: validate everything, then compress, then measure.

Every method (magnitude, wanda, sparsegpt, gptq, rtn) is a config plus a per-layer function; this
module finds the layers (topology), checks every layer before anything is modified, draws the
calibration windows, runs either a plain pass or the sequential calibration, and measures the
result (zeros, N:M groups, quantization levels, time, memory).
"""

from __future__ import annotations

import dataclasses
import logging
import resource
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from kick import SpecError
from kick_layerwise import NM
from kick_layerwise.calibration import load_calibration, model_max_positions
from kick_layerwise.obs import small_ops_threads
from kick_layerwise.sequential import LayerFn, Statistic, calibrate_sequentially
from kick_layerwise.topology import Block, Topology, find_blocks


@dataclass(frozen=True)
class CalibrationSettings:
    source: str | None
    nsamples: int
    seqlen: int
    seed: int
    batch_size: int
    sampler: str = "document"  # or "concat" (kick_layerwise.calibration)
    hub_default: str = "c4"  # the Hub source used when `source` is None and the Hub answers
    activations: str = "memory"  # or "disk": where a block's activations are kept (kick_layerwise.activations)

    @classmethod
    def of(cls, config: Any, **defaults: Any) -> CalibrationSettings:
        """From a calibrated method's config (calibration, nsamples, seqlen, seed, batch_size, sampler,
        activations)."""
        return cls(
            config.calibration, config.nsamples, config.seqlen, config.seed, config.batch_size,
            sampler=config.sampler, activations=config.activations, **defaults,
        )  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What one method needs from the engine."""

    method: str
    config: Any
    process: LayerFn | Callable[[str, nn.Linear, None], None]
    statistic: Statistic | None = None
    calibration: CalibrationSettings | None = None
    nm: NM | None = None
    group_size: int | None = None  # set for quantizers: measure levels per group
    bits: int | None = None


# --- validation -----------------------------------------------------------------------------------


def check_widths(topology: Topology, *, nm: NM | None, group_size: int | None) -> None:
    """Every Linear's input width must be divisible by M (N:M) and by the group size."""
    for name, lin in topology.linears():
        width = lin.in_features
        if nm is not None and width % nm[1]:
            raise SpecError(
                f"pattern {nm[0]}:{nm[1]}: M={nm[1]} does not divide the input width {width} of {name}"
            )
        if group_size is not None and group_size != -1 and width % group_size:
            divisors = [
                g
                for g in (32, 64, 128, 256)
                if all(lin2.in_features % g == 0 for _, lin2 in topology.linears())
            ]
            hint = f"; group sizes that fit this model: {', '.join(map(str, divisors)) or 'none of 32/64/128/256'} or -1"
            raise SpecError(
                f"group_size={group_size} does not divide the input width {width} of {name}{hint}"
            )


# --- measurement ----------------------------------------------------------------------------------


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return None


def peak_rss_bytes() -> int:
    """Process-lifetime peak resident set size (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def layer_sparsity(name: str, lin: nn.Linear, nm: NM | None) -> dict[str, Any]:
    """One layer's zeros (and N:M groups that keep more than N)."""
    w = lin.weight.detach()
    zeros = int((w == 0).sum().item())
    layer: dict[str, Any] = {
        "name": name,
        "shape": list(w.shape),
        "zeros": zeros,
        "numel": w.numel(),
        "sparsity": zeros / w.numel(),
    }
    if nm is not None:
        alive = (w.reshape(w.shape[0], -1, nm[1]) != 0).sum(dim=-1)
        layer["nm_groups"] = alive.numel()
        layer["nm_groups_violating"] = int((alive > nm[0]).sum().item())
    return layer


def sparsity_totals(layers: list[dict[str, Any]], nm: NM | None) -> dict[str, Any]:
    zeros_total = sum(la["zeros"] for la in layers)
    numel_total = sum(la["numel"] for la in layers)
    out: dict[str, Any] = {
        "layers": layers,
        "zeros": zeros_total,
        "numel": numel_total,
        "sparsity": zeros_total / numel_total if numel_total else 0.0,
        "sparsity_min_layer": min(la["sparsity"] for la in layers),
        "sparsity_max_layer": max(la["sparsity"] for la in layers),
    }
    if nm is not None:
        bad = sum(la["nm_groups_violating"] for la in layers)
        groups = sum(la["nm_groups"] for la in layers)
        out["nm"] = {"n": nm[0], "m": nm[1], "groups": groups, "groups_violating": bad, "ok": bad == 0}
    return out


def zeros_not_sparsity(measured: dict[str, Any]) -> dict[str, Any]:
    """A quantizer's exact zeros are grid points that round to 0, not pruning: the same counts
    under `zero_fraction` names, so nothing reads them as sparsity."""

    def rename(d: dict[str, Any]) -> dict[str, Any]:
        return {k.replace("sparsity", "zero_fraction"): v for k, v in d.items()}

    out = rename(measured)
    out["layers"] = [rename(layer) for layer in measured["layers"]]
    out["zeros_note"] = "exact zeros after quantization (values rounded to 0), not pruned weights"
    return out


def max_levels_per_group(weight: torch.Tensor, group_size: int) -> int:
    """Distinct values in each (row, column group), maximised over groups: <= 2^bits if quantized."""
    rows, cols = weight.shape
    gs = cols if group_size == -1 else group_size
    groups = torch.sort(weight.detach().reshape(rows * (cols // gs), gs), dim=1).values
    distinct = 1 + (groups[:, 1:] != groups[:, :-1]).sum(dim=1)
    return int(distinct.max().item())


def levels_summary(per_layer: dict[str, int], group_size: int, bits: int) -> dict[str, Any]:
    worst = max(per_layer.values())
    return {
        "bits": bits,
        "group_size": group_size,
        "max_levels_per_group": worst,
        "within_grid": worst <= 2**bits,
        "levels_per_layer": per_layer,
    }


# --- the flow -------------------------------------------------------------------------------------


PROGRESS_LOG = (
    "kick.progress"  # records with a `kick_progress` (key, text, done, total): kick.console draws a bar
)


def blocks_done(method: str, total: int) -> Callable[[int], None]:
    """A callback reporting `k` of `total` blocks compressed, as a progress log record."""
    log = logging.getLogger(PROGRESS_LOG)

    def done(k: int) -> None:
        info = (f"compress/{method}", f"compressing ({method}), blocks", k, total)
        log.info("%s: %d of %d blocks compressed", method, k, total, extra={"kick_progress": info})

    return done


def lin_device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


class _Measure:
    """Measures each block right after it is compressed (while its weights are in memory, which
    an offloaded block is only then); later blocks never change an earlier one."""

    def __init__(self, plan: Plan, blocks: Any) -> None:
        self.plan, self.blocks = plan, blocks
        self.layers: list[dict[str, Any]] = []
        self.levels: dict[str, int] = {}

    def before(self, block: Block) -> None:
        if self.blocks is not None:
            self.blocks.load(block.module)

    def after(self, block: Block) -> None:
        for name, lin in block.linears.items():
            self.layers.append(layer_sparsity(name, lin, self.plan.nm))
            if self.plan.group_size is not None and self.plan.bits is not None:
                self.levels[name] = max_levels_per_group(lin.weight, self.plan.group_size)
        if self.blocks is not None:
            self.blocks.finish(block.module)


def run_plan(module: nn.Module, tokenizer: Any, plan: Plan, *, blocks: Any = None) -> dict[str, Any]:
    """Validate, compress in place, measure. Raises before modifying anything on bad input.
    `blocks`: the model's `OffloadedBlocks` when its decoder blocks are on disk (`--offload`):
    each is read before it is compressed and written out and dropped after."""
    topology = find_blocks(module)
    check_widths(topology, nm=plan.nm, group_size=plan.group_size)
    calib = None
    if plan.calibration is not None:
        c = plan.calibration
        calib = load_calibration(
            tokenizer,
            c.source,
            nsamples=c.nsamples,
            seqlen=c.seqlen,
            seed=c.seed,
            max_positions=model_max_positions(module),
            sampler=c.sampler,
            hub_default=c.hub_default,
        )
    measure = _Measure(plan, blocks)
    on_cuda = next(module.parameters()).is_cuda
    if on_cuda:
        torch.cuda.reset_peak_memory_stats()
    rss_before = _rss_bytes()
    start = time.perf_counter()
    done = blocks_done(plan.method, len(topology.blocks))
    done(0)
    if calib is None:
        per_block = []
        with torch.no_grad():
            for block in topology.blocks:
                t = time.perf_counter()
                measure.before(block)
                with small_ops_threads(lin_device(block.module)):
                    for name, lin in block.linears.items():
                        plan.process(name, lin, None)  # type: ignore[arg-type]
                measure.after(block)
                per_block.append(time.perf_counter() - t)
                done(len(per_block))
    else:
        assert plan.statistic is not None and plan.calibration is not None
        per_block = calibrate_sequentially(
            module,
            topology,
            calib.input_ids,
            plan.statistic,
            plan.process,  # type: ignore[arg-type]
            batch_size=plan.calibration.batch_size,
            before=measure.before,
            after=measure.after,
            on_block=done,
            activations=plan.calibration.activations,
            scratch=blocks.scratch if blocks is not None else None,
        )
    seconds = time.perf_counter() - start
    stats: dict[str, Any] = {
        "method": plan.method,
        "config": dataclasses.asdict(plan.config),
        "calibration": calib.record if calib is not None else None,
        "architecture": {
            "family": topology.family,
            "model_type": topology.model_type,
            "blocks": len(topology.blocks),
            "linears_per_block": len(topology.blocks[0].linears),
        },
        "seconds": seconds,
        "seconds_per_block": per_block,
        "memory": {
            "peak_rss_bytes": peak_rss_bytes(),
            "rss_before_bytes": rss_before,
            "rss_after_bytes": _rss_bytes(),
            "cuda_peak_bytes": int(torch.cuda.max_memory_allocated()) if on_cuda else None,
        },
        "threads": torch.get_num_threads(),
    }
    if hasattr(plan.config, "sparsity"):
        stats["target_sparsity"] = 1 - plan.nm[0] / plan.nm[1] if plan.nm else plan.config.sparsity
    measured = sparsity_totals(measure.layers, plan.nm)
    stats.update(measured if plan.bits is None else zeros_not_sparsity(measured))
    if plan.group_size is not None and plan.bits is not None:
        stats["quantization"] = levels_summary(measure.levels, plan.group_size, plan.bits)
    if blocks is not None:
        stats["offload"] = True  # blocks read from disk one at a time (kick_layerwise.offload)
    return stats


@dataclass(frozen=True)
class LayerwiseCompressor:
    """A Compressor: `compress(model)` runs `plan_fn(config)` on `model.module` in place."""

    name: str
    config: Any
    plan_fn: Callable[[Any], Plan]

    def compress(self, model: Any) -> Mapping[str, Any]:
        blocks = getattr(model, "offloaded_blocks", None)
        return run_plan(model.module, model.tokenizer, self.plan_fn(self.config), blocks=blocks)

    def check(self, model: Any) -> None:
        """The widths check of `run_plan`, without compressing: run right after the model loads."""
        plan = self.plan_fn(self.config)
        check_widths(find_blocks(model.module), nm=plan.nm, group_size=plan.group_size)
