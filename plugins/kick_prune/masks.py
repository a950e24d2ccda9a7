"""Pure mask maths. A mask is a bool tensor shaped like the weight, True where a weight is pruned."""

from __future__ import annotations

import torch
from kick_layerwise import NM

from kick import SpecError


def lowest_k_mask(score: torch.Tensor, k: int) -> torch.Tensor:
    """Exactly the `k` lowest entries of `score` (ties broken by position, deterministically)."""
    flat = score.flatten()
    if k <= 0:
        return torch.zeros_like(score, dtype=torch.bool)
    if k >= flat.numel():
        return torch.ones_like(score, dtype=torch.bool)
    threshold = torch.kthvalue(flat, k).values  # selection, not a full sort
    mask = flat < threshold
    missing = k - int(mask.sum())
    if missing > 0:  # ties at the threshold: take the first ones by position
        ties = (flat == threshold).nonzero().flatten()[:missing]
        mask[ties] = True
    return mask.view_as(score)


def unstructured_mask(score: torch.Tensor, sparsity: float, *, per_row: bool = False) -> torch.Tensor:
    """Prune the lowest `sparsity` fraction of scores, in the whole matrix or within each row."""
    if not per_row:
        return lowest_k_mask(score, int(score.numel() * sparsity))
    counts = row_prune_counts(score.shape[0], score.shape[1], sparsity).to(score.device)
    order = torch.sort(score, dim=1, stable=True).indices
    rank_pruned = torch.arange(score.shape[1], device=score.device).unsqueeze(0) < counts.unsqueeze(1)
    return torch.zeros_like(score, dtype=torch.bool).scatter_(1, order, rank_pruned)


def row_prune_counts(rows: int, cols: int, sparsity: float) -> torch.Tensor:
    """Weights to prune in each row: int(cols * sparsity), as the Wanda reference does (when
    cols * sparsity is not an integer the matrix keeps up to `rows` weights more than
    floor(rows * cols * sparsity))."""
    return torch.full((rows,), int(cols * sparsity), dtype=torch.long)


def nm_mask(score: torch.Tensor, n: int, m: int) -> torch.Tensor:
    """In every group of `m` consecutive columns of each row keep the `n` highest scores."""
    rows, cols = score.shape
    if cols % m:
        raise SpecError(f"N:M pattern {n}:{m}: M={m} does not divide the input width {cols}")
    groups = score.reshape(rows, cols // m, m)
    order = torch.sort(groups, dim=-1, stable=True).indices  # ascending: the first m-n are pruned
    mask = torch.zeros_like(groups, dtype=torch.bool)
    mask.scatter_(-1, order[..., : m - n], True)
    return mask.reshape(rows, cols)


def prune_mask(score: torch.Tensor, sparsity: float, nm: NM | None, *, per_row: bool = False) -> torch.Tensor:
    """Unstructured at `sparsity` when `nm` is None, else the N:M mask (sparsity is then 1 - N/M)."""
    if nm is None:
        return unstructured_mask(score, sparsity, per_row=per_row)
    return nm_mask(score, *nm)


def wanda_score(weight: torch.Tensor, input_norm: torch.Tensor) -> torch.Tensor:
    """|W_ij| * ||X_j||_2 (input-channel L2 norm over calibration tokens)."""
    return weight.abs().float() * input_norm.float().reshape(1, -1)
