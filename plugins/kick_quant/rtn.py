"""Round-to-nearest weight quantization (no calibration); weights stored dequantized."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from kick_layerwise.checks import check_bits, check_group_size
from kick_layerwise.engine import Plan
from torch import nn

from kick import build_config
from kick_quant.pack import PackedQuantizer
from kick_quant.quantizer import rtn_quantize


@dataclass(frozen=True)
class RTNConfig:
    bits: int = 4
    group_size: int = 128
    sym: bool = False

    def __post_init__(self) -> None:
        check_bits("rtn", self.bits)
        check_group_size("rtn", self.group_size)


def plan(config: RTNConfig) -> Plan:
    def process(_name: str, lin: nn.Linear, _stat: torch.Tensor | None) -> None:
        new = rtn_quantize(lin.weight.detach(), config.bits, config.group_size, config.sym)
        lin.weight.data.copy_(new.to(lin.weight.dtype))

    return Plan("rtn", config, process, group_size=config.group_size, bits=config.bits)


def make_rtn(**params: Any) -> PackedQuantizer:
    """The `rtn` compressor, from the user's parameters (bad values raise SpecError)."""
    return PackedQuantizer("rtn", build_config(RTNConfig, params, owner="rtn"), plan)
