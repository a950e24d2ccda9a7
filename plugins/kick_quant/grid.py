"""Integer weights back from fake-quantized ones: each group's grid, recovered and verified.

gptq and rtn leave every (row, group) of a weight on a uniform grid, `w = s * k` with one float
scale `s` and integers `k` spanning at most 2^bits - 1 steps. GPTQ fits some grids on weights it
has already updated, so they cannot be recomputed from the original weights; they are recovered
from the quantized values themselves: the smallest gap between two distinct values of a group is
a whole number of steps (1 to 2^bits - 1), the step is the largest divisor of it that puts every
value on an integer, and the scale is refit by least squares on those integers. A group that is not on a
2^bits-level grid is an error, never silently rounded.

Integers come out in the signed range [-2^(bits-1), 2^(bits-1) - 1] with an integer zero point
(asymmetric) or none (symmetric), the convention of compressed-tensors: `w = (q - zero) * scale`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kick import KickError


@dataclass(frozen=True)
class IntWeight:
    """A weight as integers on per-(row, group) grids: `weight = (q - zero) * scale`."""

    q: torch.Tensor  # int8 [rows, cols], in [-2^(bits-1), 2^(bits-1) - 1]
    scale: torch.Tensor  # float32 [rows, groups]
    zero: torch.Tensor | None  # int8 [rows, groups]; None when symmetric (zero point 0)
    max_abs_error: float  # of the dequantized weight against the fake-quantized one

    def dequantize(self, group_size: int) -> torch.Tensor:
        zero = 0 if self.zero is None else self.zero.to(torch.float32)
        gs = self.q.shape[1] if group_size == -1 else group_size
        steps = (self.q.to(torch.float32).reshape(self.q.shape[0], -1, gs) - _unsqueeze(zero)) * self.scale[
            ..., None
        ]
        return steps.reshape(self.q.shape)


def _unsqueeze(zero: torch.Tensor | int) -> torch.Tensor | int:
    return zero[..., None] if isinstance(zero, torch.Tensor) else zero


def recover_grid(
    weight: torch.Tensor, *, bits: int, group_size: int, sym: bool, name: str = "weight"
) -> IntWeight:
    """The integers, scales and zero points of a fake-quantized `weight` [rows, cols]."""
    rows, cols = weight.shape
    gs = cols if group_size == -1 else group_size
    v = weight.detach().to(torch.float64).reshape(rows * (cols // gs), gs)
    steps = _steps(v, bits, name)
    k = torch.round(v / steps[:, None])
    nonzero = (k != 0).any(dim=1)
    fitted = (v * k).sum(dim=1) / (k * k).sum(dim=1).clamp_min(1)
    scale = torch.where(nonzero, fitted, steps).to(torch.float32)
    qmin, qmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    if sym:
        zero = None
        q = k
    else:
        z = qmin - k.min(dim=1).values  # the lowest value used sits on the lowest integer
        zero = z.to(torch.int8).reshape(rows, cols // gs)
        q = k + z[:, None]
    if q.min() < qmin or q.max() > qmax:
        raise KickError(f"{name}: values span more than a {bits}-bit {'symmetric ' if sym else ''}grid")
    out = IntWeight(q.to(torch.int8).reshape(rows, cols), scale.reshape(rows, cols // gs), zero, 0.0)
    error = float((out.dequantize(group_size) - weight.detach().float()).abs().max())
    return IntWeight(out.q, out.scale, out.zero, error)


def _steps(v: torch.Tensor, bits: int, name: str) -> torch.Tensor:
    """Per group, the grid step: the largest divisor of the smallest gap that puts every value
    on an integer number of steps within 2^bits levels."""
    maxq = 2**bits - 1
    top = v.abs().amax(dim=1)
    ordered = torch.sort(v, dim=1).values
    gaps = ordered[:, 1:] - ordered[:, :-1]
    tiny = (top * 1e-6)[:, None]
    gaps = torch.where(gaps > tiny, gaps, torch.full_like(gaps, torch.inf))
    smallest = gaps.min(dim=1).values
    # one distinct value: it is one step (or the group is all zeros: any step, 1)
    smallest = torch.where(torch.isinf(smallest), torch.where(top > 0, top, torch.ones_like(top)), smallest)
    steps = torch.full_like(smallest, torch.nan)
    # the smallest gap is 1 step when two adjacent levels are used, but can be many: weights that
    # already lay on a coarse grid (a dequantized 4-bit GGUF) re-quantized to 8 bits use every
    # 16th level or so. The first divisor that fits is the largest step consistent with the values.
    for divisor in range(1, maxq + 1):
        todo = torch.isnan(steps)
        if not todo.any():
            break
        rows = v[todo]
        k = torch.round(rows / (smallest[todo] / divisor)[:, None])
        s = (rows * k).sum(dim=1) / (k * k).sum(dim=1).clamp_min(1)  # refit: the gap is rounded
        residual = (rows - s[:, None] * k).abs().amax(dim=1)
        on_grid = residual <= 4e-7 * top[todo] + 1e-30  # a few float32 roundings of the largest value
        ok = on_grid & (k.amax(dim=1) - k.amin(dim=1) <= maxq)
        idx = todo.nonzero().squeeze(1)[ok]
        steps[idx] = s[ok]
    if torch.isnan(steps).any():
        bad = int(torch.isnan(steps).nonzero()[0])
        raise KickError(
            f"{name}: group {bad} is not on a {bits}-bit grid (was it quantized with these bits and group size?)"
        )
    return steps
