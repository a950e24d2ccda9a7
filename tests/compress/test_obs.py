"""SparseGPT and GPTQ against slow, obviously-correct references (column-by-column OBS with an
explicit inverse Hessian, updated by eliminating one column at a time), in float64."""

from __future__ import annotations

import pytest
import torch
from kick_prune.sparsegpt_math import sparsegpt_prune
from kick_quant.gptq_math import gptq_quantize
from kick_quant.quantizer import rtn_quantize

pytestmark = pytest.mark.torch


def problem(rows: int, cols: int, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights, correlated inputs X [tokens, cols], and H = X^T X / tokens."""
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(rows, cols, generator=gen, dtype=torch.float64)
    mix = torch.randn(cols, cols, generator=gen, dtype=torch.float64) / cols**0.5 + torch.eye(
        cols, dtype=torch.float64
    )
    x = torch.randn(4 * cols, cols, generator=gen, dtype=torch.float64) @ mix
    return w, x, x.T @ x / x.shape[0]


def damped(w: torch.Tensor, h: torch.Tensor, damp: float) -> tuple[torch.Tensor, torch.Tensor]:
    w, h = w.clone(), h.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    return w, h + damp * torch.diag(h).mean() * torch.eye(h.shape[0], dtype=h.dtype)


def eliminate(hinv: torch.Tensor, j: int) -> torch.Tensor:
    """Inverse Hessian of the remaining columns once column j is fixed (zeroes row and column j)."""
    return hinv - torch.outer(hinv[:, j], hinv[j, :]) / hinv[j, j]


def reference_sparsegpt(
    w: torch.Tensor,
    h: torch.Tensor,
    sparsity: float,
    nm: tuple[int, int] | None,
    blocksize: int,
    damp: float = 0.01,
) -> torch.Tensor:
    w, h = damped(w, h, damp)
    rows, cols = w.shape
    hinv = torch.linalg.inv(h)
    d2 = []  # [H^-1 after fixing columns < j]_jj, the OBS saliency denominator
    tmp = hinv.clone()
    for j in range(cols):
        d2.append(float(tmp[j, j]))
        tmp = eliminate(tmp, j)
    d2_t = torch.tensor(d2, dtype=w.dtype)
    mask = torch.zeros_like(w, dtype=torch.bool)
    for j in range(cols):
        if nm is None and j % blocksize == 0:
            j2 = min(j + blocksize, cols)
            score = w[:, j:j2] ** 2 / d2_t[j:j2]  # the released code: prune <= the int(numel*s)-th
            mask[:, j:j2] = score <= score.flatten().sort().values[int(score.numel() * sparsity)]
        if nm is not None and j % nm[1] == 0:
            n, m = nm
            score = w[:, j : j + m] ** 2 / d2_t[j : j + m]
            for r in range(rows):
                for c in score[r].argsort()[: m - n].tolist():
                    mask[r, j + c] = True
        q = torch.where(mask[:, j], torch.zeros_like(w[:, j]), w[:, j])
        err = (w[:, j] - q) / hinv[j, j]
        w[:, j + 1 :] -= torch.outer(err, hinv[j, j + 1 :])  # only columns not fixed yet
        w[:, j] = q
        hinv = eliminate(hinv, j)
    return w


def ref_grid(x: torch.Tensor, bits: int, sym: bool) -> tuple[torch.Tensor, torch.Tensor]:
    maxq = 2**bits - 1
    lo = x.min(dim=1).values.clamp(max=0)
    hi = x.max(dim=1).values.clamp(min=0)
    if sym:
        hi = torch.maximum(lo.abs(), hi)
        lo = -hi
    scale = (hi - lo) / maxq
    zero = torch.full_like(scale, (maxq + 1) / 2) if sym else torch.round(-lo / scale)
    return scale, zero


def ref_quant(col: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, bits: int) -> torch.Tensor:
    return scale * (torch.clamp(torch.round(col / scale) + zero, 0, 2**bits - 1) - zero)


def reference_gptq(
    w: torch.Tensor,
    h: torch.Tensor,
    bits: int,
    group_size: int,
    sym: bool,
    act_order: bool = False,
    damp: float = 0.01,
) -> torch.Tensor:
    w, h = damped(w, h, damp)
    rows, cols = w.shape
    order = (
        torch.argsort(torch.diag(h), descending=True, stable=True).tolist()
        if act_order
        else list(range(cols))
    )
    hinv = torch.linalg.inv(h)
    static = {}
    if act_order or group_size == -1:
        gs = cols if group_size == -1 else group_size
        for g in range(cols // gs):
            static[g] = ref_grid(w[:, g * gs : (g + 1) * gs], bits, sym)
    done: list[int] = []
    scale = zero = None
    for step, j in enumerate(order):
        if static:
            scale, zero = static[j // (cols if group_size == -1 else group_size)]
        elif step % group_size == 0:
            scale, zero = ref_grid(w[:, j : j + group_size], bits, sym)
        q = ref_quant(w[:, j], scale, zero, bits)
        err = (w[:, j] - q) / hinv[j, j]
        rest = [c for c in range(cols) if c not in done and c != j]
        w[:, rest] -= torch.outer(err, hinv[j, rest])  # only columns not fixed yet
        w[:, j] = q
        hinv = eliminate(hinv, j)
        done.append(j)
    return w


@pytest.mark.parametrize(
    ("sparsity", "nm", "blocksize"),
    [(0.5, None, 16), (0.3, None, 24), (0.7, None, 64), (0.5, (2, 4), 16), (0.5, (4, 8), 32)],
)
def test_sparsegpt_matches_explicit_inverse_reference(
    sparsity: float, nm: tuple[int, int] | None, blocksize: int
) -> None:
    w, _x, h = problem(12, 48, seed=7)
    got = sparsegpt_prune(w, h, sparsity=sparsity, nm=nm, blocksize=blocksize)
    want = reference_sparsegpt(w, h, sparsity, nm, blocksize)
    assert torch.equal(got == 0, want == 0)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)
    if nm is None:  # per block one weight more than int(block numel x sparsity), as released
        widths = [min(blocksize, 48 - c) for c in range(0, 48, blocksize)]
        assert int((got == 0).sum()) == sum(int(12 * b * sparsity) + 1 for b in widths)


def test_sparsegpt_zeroes_dead_inputs_and_still_matches_reference() -> None:
    w, _x, h = problem(8, 32, seed=8)
    h[5, :] = 0
    h[:, 5] = 0
    got = sparsegpt_prune(w, h, sparsity=0.5, nm=None, blocksize=16)
    assert bool((got[:, 5] == 0).all())
    torch.testing.assert_close(got, reference_sparsegpt(w, h, 0.5, None, 16), rtol=1e-9, atol=1e-9)


def test_sparsegpt_reconstructs_better_than_magnitude_at_same_sparsity() -> None:
    w, x, h = problem(32, 64, seed=9)
    got = sparsegpt_prune(w, h, sparsity=0.5, nm=None, blocksize=32)
    mag = w.clone()
    mag[w.abs() <= w.abs().flatten().kthvalue(32 * 32).values] = 0
    assert ((got - w) @ x.T).pow(2).sum() < ((mag - w) @ x.T).pow(2).sum()


@pytest.mark.parametrize(
    ("bits", "group_size", "sym", "act_order", "blocksize"),
    [
        (4, 16, False, False, 32),
        (3, 16, True, False, 16),
        (2, -1, False, False, 16),
        (8, 32, False, False, 128),
        (4, 16, False, True, 32),
        (3, -1, True, True, 16),
    ],
)
def test_gptq_matches_explicit_inverse_reference(
    bits: int, group_size: int, sym: bool, act_order: bool, blocksize: int
) -> None:
    w, _x, h = problem(10, 64, seed=11)
    got = gptq_quantize(
        w, h, bits=bits, group_size=group_size, sym=sym, act_order=act_order, blocksize=blocksize
    )
    want = reference_gptq(w, h, bits, group_size, sym, act_order)
    torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(("bits", "group_size"), [(4, 16), (3, 32), (2, -1)])
def test_gptq_layer_error_is_below_rtn(bits: int, group_size: int) -> None:
    w, x, h = problem(32, 64, seed=12)
    gptq = gptq_quantize(w.float(), h.float(), bits=bits, group_size=group_size)
    rtn = rtn_quantize(w.float(), bits, group_size, sym=False)
    xf = x.float()
    err_gptq = float(((gptq - w.float()) @ xf.T).pow(2).sum())
    err_rtn = float(((rtn - w.float()) @ xf.T).pow(2).sum())
    assert err_gptq < 0.9 * err_rtn


def test_rtn_values_lie_on_at_most_two_to_the_bits_levels_per_group() -> None:
    w, _x, _h = problem(8, 64, seed=13)
    q = rtn_quantize(w, 3, 16, sym=False)
    for g in q.reshape(8 * 4, 16):
        assert len(torch.unique(g)) <= 8
    assert float((q - w).abs().max()) <= float((w.abs().max() * 2) / 7)
