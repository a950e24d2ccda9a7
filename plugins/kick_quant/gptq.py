"""GPTQ (Frantar et al., 2023): OBS quantization with a calibration Hessian, sequential.

Act-order deviates from the GPTQ reference default: kick supports only static groups (each
group's grid fit up front on the original column groups, the reference's `--static-groups`),
not dynamic groups (grid fit on the current, compensated weights W[:, perm[i:i+g]] when permuted
column i % g == 0 is reached, stored with a per-column g_idx). Measured size
(benchmarks/bench_gptq_actorder.py: SmolLM2-135M, q/o/up/down_proj of blocks 0, 15, 29, 16 x 256
c4 tokens, 4-bit asym, damp 0.01, float64; re-quantizing weights that already lie on a Q4_1 grid):
the dynamic/static ratio of ||(W-Q)X||^2 / ||WX||^2 is 0.75-1.26 (geometric mean 1.00) over the
12 layers at g=64 and 0.85-0.99 (0.94) over the 3 down_proj layers at g=128 (576 % 128 != 0 rules
out the others), so neither choice is uniformly better; an independent reference with static
groups reproduces kick's output exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from kick_layerwise.checks import check_bits, check_calibration, check_group_size, check_positive
from kick_layerwise.engine import CalibrationSettings, Plan
from torch import nn

from kick import build_config
from kick_quant.gptq_math import gptq_quantize
from kick_quant.pack import PackedQuantizer


@dataclass(frozen=True)
class GPTQConfig:
    bits: int = 4
    group_size: int = 128
    sym: bool = False
    act_order: bool = False
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
        check_bits("gptq", self.bits)
        check_group_size("gptq", self.group_size)
        check_positive("gptq", damp=self.damp, blocksize=self.blocksize)
        check_calibration(
            "gptq", self.nsamples, self.seqlen, self.seed, self.batch_size, self.sampler, self.activations
        )


def plan(config: GPTQConfig) -> Plan:
    def process(_name: str, lin: nn.Linear, hessian: torch.Tensor) -> None:
        new = gptq_quantize(
            lin.weight.detach(),
            hessian,
            bits=config.bits,
            group_size=config.group_size,
            sym=config.sym,
            act_order=config.act_order,
            blocksize=config.blocksize,
            damp=config.damp,
        )
        lin.weight.data.copy_(new.to(lin.weight.dtype))

    calib = CalibrationSettings.of(config, hub_default="wikitext2")
    return Plan(
        "gptq",
        config,
        process,
        statistic="hessian",
        calibration=calib,
        group_size=config.group_size,
        bits=config.bits,
    )


def make_gptq(**params: Any) -> PackedQuantizer:
    """The `gptq` compressor, from the user's parameters (bad values raise SpecError)."""
    return PackedQuantizer("gptq", build_config(GPTQConfig, params, owner="gptq"), plan)
