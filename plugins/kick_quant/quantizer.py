"""Uniform min-max quantization grids (pure functions), as in GPTQ's reference quantizer.

A grid per row of `x` covers [min(x, 0), max(x, 0)] (asymmetric, integer zero point) or
[-max|x|, max|x|] (symmetric, zero point (2^bits)/2); values are stored dequantized.
"""

from __future__ import annotations

import torch

BITS = (2, 3, 4, 8)


def grid_params(x: torch.Tensor, bits: int, sym: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row scale and zero point [rows, 1] for the columns of `x` [rows, k]."""
    maxq = 2**bits - 1
    zero_t = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    xmin = torch.minimum(x.min(dim=1).values, zero_t)
    xmax = torch.maximum(x.max(dim=1).values, zero_t)
    if sym:
        xmax = torch.maximum(xmin.abs(), xmax)
        xmin = torch.where(xmin < 0, -xmax, xmin)
    both_zero = (xmin == 0) & (xmax == 0)
    xmin = torch.where(both_zero, -torch.ones_like(xmin), xmin)
    xmax = torch.where(both_zero, torch.ones_like(xmax), xmax)
    scale = (xmax - xmin) / maxq
    if sym:
        zero = torch.full_like(scale, (maxq + 1) / 2)
    else:
        zero = torch.round(-xmin / scale)
    return scale.unsqueeze(1), zero.unsqueeze(1)


def fake_quant(x: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    """Round `x` to the grid and return the dequantized values."""
    q = torch.clamp(torch.round(x / scale) + zero, 0, 2**bits - 1)
    return scale * (q - zero)


def rtn_quantize(weight: torch.Tensor, bits: int, group_size: int, sym: bool) -> torch.Tensor:
    """Round-to-nearest, one grid per row and group of `group_size` columns (-1: whole row)."""
    w = weight.detach().to(torch.float64 if weight.dtype == torch.float64 else torch.float32)
    rows, cols = w.shape
    gs = cols if group_size == -1 else group_size
    groups = w.reshape(rows * (cols // gs), gs)
    scale, zero = grid_params(groups, bits, sym)
    return fake_quant(groups, scale, zero, bits).reshape(rows, cols)
