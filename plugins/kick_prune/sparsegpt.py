"""SparseGPT (Frantar & Alistarh, 2023): OBS pruning with a calibration Hessian, sequential."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from kick_layerwise.checks import check_calibration, check_pattern, check_positive, check_sparsity
from kick_layerwise.engine import CalibrationSettings, LayerwiseCompressor, Plan
from torch import nn

from kick import SpecError, build_config, parse_pattern
from kick_prune.sparsegpt_math import sparsegpt_prune


@dataclass(frozen=True)
class SparseGPTConfig:
    sparsity: float = 0.5
    pattern: str = "unstructured"
    damp: float = 0.01
    blocksize: int = 128
    nsamples: int = 128
    seqlen: int = 2048
    seed: int = 0
    calibration: str | None = None
    batch_size: int = 8
    sampler: str = "document"  # the reference sampler; "concat": windows over joined documents
    activations: str = "memory"  # "disk": a block's activations in scratch files, one batch in memory

    def __post_init__(self) -> None:
        check_sparsity("sparsegpt", self.sparsity)
        check_pattern("sparsegpt", self.pattern)
        check_positive("sparsegpt", damp=self.damp, blocksize=self.blocksize)
        nm = parse_pattern(self.pattern)
        if nm is not None and self.blocksize % nm[1]:
            raise SpecError(
                f"sparsegpt: blocksize={self.blocksize} is not a multiple of M={nm[1]} (pattern "
                f"{self.pattern}): N:M groups would straddle column blocks"
            )
        check_calibration(
            "sparsegpt", self.nsamples, self.seqlen, self.seed, self.batch_size, self.sampler, self.activations
        )


def plan(config: SparseGPTConfig) -> Plan:
    nm = parse_pattern(config.pattern)

    def process(_name: str, lin: nn.Linear, hessian: torch.Tensor) -> None:
        new = sparsegpt_prune(
            lin.weight.detach(),
            hessian,
            sparsity=config.sparsity,
            nm=nm,
            blocksize=config.blocksize,
            damp=config.damp,
        )
        lin.weight.data.copy_(new.to(lin.weight.dtype))

    calib = CalibrationSettings.of(config)
    return Plan("sparsegpt", config, process, statistic="hessian", calibration=calib, nm=nm)


def make_sparsegpt(**params: Any) -> LayerwiseCompressor:
    """The `sparsegpt` compressor, from the user's parameters (bad values raise SpecError)."""
    return LayerwiseCompressor("sparsegpt", build_config(SparseGPTConfig, params, owner="sparsegpt"), plan)
