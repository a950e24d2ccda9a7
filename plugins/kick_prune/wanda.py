"""Wanda (Sun et al., 2024): score |W_ij| * ||X_j||_2, prune the lowest scores within each output row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from kick_layerwise.checks import check_calibration, check_pattern, check_sparsity
from kick_layerwise.engine import CalibrationSettings, LayerwiseCompressor, Plan
from torch import nn

from kick import build_config, parse_pattern
from kick_prune.masks import prune_mask, wanda_score


@dataclass(frozen=True)
class WandaConfig:
    sparsity: float = 0.5
    pattern: str = "unstructured"
    nsamples: int = 128
    seqlen: int = 2048
    seed: int = 0
    calibration: str | None = None
    batch_size: int = 8
    sampler: str = "document"  # the reference sampler; "concat": windows over joined documents
    activations: str = "memory"  # "disk": a block's activations in scratch files, one batch in memory

    def __post_init__(self) -> None:
        check_sparsity("wanda", self.sparsity)
        check_pattern("wanda", self.pattern)
        check_calibration(
            "wanda", self.nsamples, self.seqlen, self.seed, self.batch_size, self.sampler, self.activations
        )


def plan(config: WandaConfig) -> Plan:
    nm = parse_pattern(config.pattern)

    def process(_name: str, lin: nn.Linear, norms: torch.Tensor) -> None:
        mask = prune_mask(wanda_score(lin.weight.detach(), norms), config.sparsity, nm, per_row=True)
        lin.weight.data.masked_fill_(mask, 0.0)

    calib = CalibrationSettings.of(config)
    return Plan("wanda", config, process, statistic="norms", calibration=calib, nm=nm)


def make_wanda(**params: Any) -> LayerwiseCompressor:
    """The `wanda` compressor, from the user's parameters (bad values raise SpecError)."""
    return LayerwiseCompressor("wanda", build_config(WandaConfig, params, owner="wanda"), plan)
