"""Optimal-Brain-Surgeon helpers shared by SparseGPT and GPTQ (pure functions on tensors).

Both algorithms work on the upper Cholesky factor U of the damped inverse Hessian, H^-1 = U^T U:
row j of U, divided by U_jj, is the update that compensates the error made on column j once
columns < j are fixed (Frantar & Alistarh 2022, 2023).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from kick import KickError


@contextmanager
def small_ops_threads(device: torch.device) -> Iterator[None]:
    """One intra-op thread for the column loops on CPU, restored afterwards.

    The loops issue thousands of tiny ops; with several OpenMP threads each pays a fork/join, which
    measured 20-30x slower than one thread on a busy 2-core machine. Big matmuls stay outside.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def work_dtype(weight: torch.Tensor) -> torch.dtype:
    """float64 stays float64 (tests against references); everything else is computed in float32."""
    return torch.float64 if weight.dtype == torch.float64 else torch.float32


def prepare_hessian(
    weight: torch.Tensor, hessian: torch.Tensor, damp: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Copy W and H, zero the weights of dead inputs (H_jj = 0), add damp x mean(diag H) to the diagonal."""
    dtype = work_dtype(weight)
    w = weight.detach().to(dtype).clone()
    h = hessian.detach().to(device=w.device, dtype=dtype).clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    diag = torch.arange(h.shape[0], device=h.device)
    h[diag, diag] += damp * torch.mean(torch.diag(h))
    return w, h


def inverse_hessian_cholesky(h: torch.Tensor) -> torch.Tensor:
    """Upper Cholesky factor U of H^-1 (H^-1 = U^T U)."""
    try:
        lower = torch.linalg.cholesky(h)
        hinv = torch.cholesky_inverse(lower)
        return torch.linalg.cholesky(hinv, upper=True)
    except RuntimeError as e:  # torch raises LinAlgError (a RuntimeError) when H is not PD
        raise KickError(f"the damped Hessian is not positive definite ({e}); try a larger damp") from None
