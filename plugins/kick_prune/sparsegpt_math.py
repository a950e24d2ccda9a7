"""The SparseGPT algorithm on one weight matrix (Frantar & Alistarh, ICML 2023)."""

from __future__ import annotations

import torch
from kick_layerwise.obs import inverse_hessian_cholesky, prepare_hessian, small_ops_threads

from kick_prune.masks import NM


def block_mask(score: torch.Tensor, sparsity: float) -> torch.Tensor:
    """The SparseGPT reference's unstructured rule for one column block: prune every score <= the
    value at index int(numel * sparsity) of the sorted block. That is int(numel * sparsity) + 1
    weights (more when scores tie at the threshold); sparsity 0 prunes nothing (the reference
    would still prune the lowest score of each block)."""
    if sparsity <= 0:
        return torch.zeros_like(score, dtype=torch.bool)
    flat = score.flatten()
    threshold = torch.kthvalue(flat, int(flat.numel() * sparsity) + 1).values  # selection, not a sort
    return score <= threshold


def _prune_columns(w1: torch.Tensor, u1: torch.Tensor, mask1: torch.Tensor, nm: NM | None) -> torch.Tensor:
    """Fix the block's columns one by one (choosing N:M masks as groups start); returns the scaled errors."""
    d1 = torch.diag(u1)
    err1 = torch.zeros_like(w1)
    for i in range(w1.shape[1]):
        if nm is not None and i % nm[1] == 0:
            n, m = nm
            score = w1[:, i : i + m].pow(2) / d1[i : i + m].pow(2).reshape(1, -1)
            low = torch.sort(score, dim=1, stable=True).indices[:, : m - n]
            mask1[:, i : i + m].scatter_(1, low, True)
        col = w1[:, i]
        q = col.masked_fill(mask1[:, i], 0.0)
        e = (col - q) / u1[i, i]
        w1[:, i:].addr_(e, u1[i, i:], alpha=-1.0)
        w1[:, i] = q
        err1[:, i] = e
    return err1


def sparsegpt_prune(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    *,
    sparsity: float,
    nm: NM | None,
    blocksize: int = 128,
    damp: float = 0.01,
) -> torch.Tensor:
    """Prune `weight` [rows, cols] with Hessian `hessian` [cols, cols]; returns the new weight.

    Masks are chosen per block of `blocksize` columns by w^2 / U_jj^2 (unstructured: `block_mask`,
    the reference's threshold rule; N:M: the M-N lowest in every group of M), then each column is fixed in turn and its
    error is spread over the remaining columns (OBS update), lazily across blocks.
    """
    with small_ops_threads(weight.device):
        return _sparsegpt_prune(weight, hessian, sparsity=sparsity, nm=nm, blocksize=blocksize, damp=damp)


def _sparsegpt_prune(
    weight: torch.Tensor,
    hessian: torch.Tensor,
    *,
    sparsity: float,
    nm: NM | None,
    blocksize: int = 128,
    damp: float = 0.01,
) -> torch.Tensor:
    w, h = prepare_hessian(weight, hessian, damp)
    u = inverse_hessian_cholesky(h)
    cols = w.shape[1]
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        w1 = w[:, i1:i2].clone()
        u1 = u[i1:i2, i1:i2]
        d1 = torch.diag(u1)
        if nm is None:
            mask1 = block_mask(w1.pow(2) / d1.pow(2).reshape(1, -1), sparsity)
        else:
            mask1 = torch.zeros_like(w1, dtype=torch.bool)
        err1 = _prune_columns(w1, u1, mask1, nm)
        w[:, i1:i2] = w1
        if i2 < cols:
            w[:, i2:].sub_(err1 @ u[i1:i2, i2:])
    return w
