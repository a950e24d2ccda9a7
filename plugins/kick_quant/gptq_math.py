"""The GPTQ algorithm on one weight matrix (Frantar et al., ICLR 2023)."""

from __future__ import annotations

import torch
from kick_layerwise.obs import inverse_hessian_cholesky, prepare_hessian, small_ops_threads

from kick_quant.quantizer import fake_quant, grid_params


def effective_blocksize(blocksize: int, group_size: int) -> int:
    """Column blocks hold whole groups, so each group's grid is fit on fully updated weights."""
    if group_size <= 0:
        return blocksize
    return group_size * max(1, blocksize // group_size)


def _quantize_column(
    w1: torch.Tensor,
    u1: torch.Tensor,
    err1: torch.Tensor,
    i: int,
    scale: torch.Tensor,
    zero: torch.Tensor,
    bits: int,
) -> None:
    """Round column i to its grid and spread the scaled error over the block's later columns."""
    col = w1[:, i]
    q = fake_quant(col.unsqueeze(1), scale, zero, bits).squeeze(1)
    e = (col - q) / u1[i, i]
    w1[:, i:].addr_(e, u1[i, i:], alpha=-1.0)
    w1[:, i] = q
    err1[:, i] = e


def gptq_quantize(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    *,
    bits: int,
    group_size: int = 128,
    sym: bool = False,
    act_order: bool = False,
    blocksize: int = 128,
    damp: float = 0.01,
) -> torch.Tensor:
    """Quantize `weight` [rows, cols] column by column with OBS error compensation.

    Grids: per row (group_size=-1) fit on the whole initial matrix; per group fit when the group's
    first column is reached, on the current (already compensated) weights. With `act_order`
    columns are processed by decreasing Hessian diagonal and group grids are fit up front on the
    original column groups ("static groups"), so every stored group lies on one grid.
    """
    with small_ops_threads(weight.device):
        return _gptq_quantize(
            weight,
            hessian,
            bits=bits,
            group_size=group_size,
            sym=sym,
            act_order=act_order,
            blocksize=blocksize,
            damp=damp,
        )


def _gptq_quantize(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    *,
    bits: int,
    group_size: int = 128,
    sym: bool = False,
    act_order: bool = False,
    blocksize: int = 128,
    damp: float = 0.01,
) -> torch.Tensor:
    w, h = prepare_hessian(weight, hessian, damp)
    rows, cols = w.shape
    perm = None
    if act_order:
        perm = torch.argsort(torch.diag(h), descending=True, stable=True)
        w, h = w[:, perm], h[perm][:, perm]
    u = inverse_hessian_cholesky(h)

    static: tuple[torch.Tensor, torch.Tensor] | None = None
    if group_size == -1 or act_order:
        gs = cols if group_size == -1 else group_size
        original = w if perm is None else w[:, torch.argsort(perm)]
        groups = original.reshape(rows, cols // gs, gs).transpose(0, 1).reshape(-1, gs)
        s, z = grid_params(groups, bits, sym)  # [(cols/gs)*rows, 1], group-major
        static = (s.reshape(cols // gs, rows).T, z.reshape(cols // gs, rows).T)  # [rows, ngroups]
        column_group = torch.arange(cols, device=w.device) // gs
        if perm is not None:
            column_group = column_group[perm]

    bs = effective_blocksize(blocksize, group_size)
    scale = zero = None
    for i1 in range(0, cols, bs):
        i2 = min(i1 + bs, cols)
        w1 = w[:, i1:i2].clone()
        u1 = u[i1:i2, i1:i2]
        err1 = torch.zeros_like(w1)
        for i in range(i2 - i1):
            if static is not None:
                g = int(column_group[i1 + i])
                scale, zero = static[0][:, g : g + 1], static[1][:, g : g + 1]
            elif (i1 + i) % group_size == 0:
                scale, zero = grid_params(w1[:, i : i + group_size], bits, sym)
            assert scale is not None and zero is not None
            _quantize_column(w1, u1, err1, i, scale, zero, bits)
        w[:, i1:i2] = w1
        if i2 < cols:
            w[:, i2:].sub_(err1 @ u[i1:i2, i2:])
    if perm is not None:
        w = w[:, torch.argsort(perm)]
    return w
