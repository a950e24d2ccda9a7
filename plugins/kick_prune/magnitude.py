"""Magnitude pruning: per matrix, remove the smallest |W| (no calibration)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from kick_layerwise.checks import check_pattern, check_sparsity
from kick_layerwise.engine import LayerwiseCompressor, Plan
from torch import nn

from kick import build_config, parse_pattern
from kick_prune.masks import prune_mask


@dataclass(frozen=True)
class MagnitudeConfig:
    sparsity: float = 0.5
    pattern: str = "unstructured"  # or "N:M": keep N of every M consecutive inputs (sparsity unused)

    def __post_init__(self) -> None:
        check_sparsity("magnitude", self.sparsity)
        check_pattern("magnitude", self.pattern)


def plan(config: MagnitudeConfig) -> Plan:
    nm = parse_pattern(config.pattern)

    def process(_name: str, lin: nn.Linear, _stat: torch.Tensor | None) -> None:
        mask = prune_mask(lin.weight.detach().abs(), config.sparsity, nm)
        lin.weight.data.masked_fill_(mask, 0.0)

    return Plan("magnitude", config, process, nm=nm)


def make_magnitude(**params: Any) -> LayerwiseCompressor:
    """The `magnitude` compressor, from the user's parameters (bad values raise SpecError)."""
    return LayerwiseCompressor("magnitude", build_config(MagnitudeConfig, params, owner="magnitude"), plan)
