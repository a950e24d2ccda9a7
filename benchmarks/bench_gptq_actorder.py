"""Measure kick's act-order deviation from the GPTQ reference: static vs dynamic groups (issue 13).

With `act_order`, kick's `gptq_quantize` fits each group's grid up front on the ORIGINAL column
groups [0:g), [g:2g), ... ("static groups", the reference's `--static-groups`). The reference's
default instead fits a group's grid lazily, when permuted column i with i % g == 0 is reached, on
the CURRENT (error-compensated) weights W[:, perm[i:i+g]] ("dynamic groups", stored with a g_idx).

For some Linear layers of SmolLM2-135M (the embedded model, dense forward hooks over calibration
windows from c4_validation_2k.jsonl) this computes H = 2 X^T X and quantizes W with
  (a) kick's gptq_quantize(act_order=True)  (static groups),
  (b) an independent GPTQ written here from the paper (Frantar et al., 2023, Algorithm 1, without
      lazy batching) with act-order and dynamic groups,
  (c) the same reference with static groups (a sanity check: it should match (a)),
and prints the relative output error ||(W - Q) X||_F^2 / ||W X||_F^2 of each and dynamic/static.
All arithmetic is float64. The model's weights come from a Q4_1 GGUF (4-bit grid, groups of 32),
so these are re-quantizations of already 4-bit weights. Layers whose input width is not a multiple
of g are skipped (kick rejects them too: 576 % 128 != 0, so at g=128 only down_proj runs).
Asserts nothing.

    python benchmarks/bench_gptq_actorder.py [--windows 16] [--seqlen 256] [--blocks 0,15,29]
        [--layers self_attn.q_proj,self_attn.o_proj,mlp.up_proj,mlp.down_proj] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

BITS = 4
DAMP = 0.01


# ---------------------------------------------------------------- reference GPTQ (from the paper)


def minmax_grid(x: torch.Tensor, maxq: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Asymmetric min-max grid per row of x [rows, k], range widened to include 0."""
    lo = x.min(dim=1).values.clamp(max=0.0)
    hi = x.max(dim=1).values.clamp(min=0.0)
    flat = (lo == 0) & (hi == 0)
    lo = torch.where(flat, torch.full_like(lo, -1.0), lo)
    hi = torch.where(flat, torch.full_like(hi, 1.0), hi)
    scale = (hi - lo) / maxq
    zero = torch.round(-lo / scale)
    return scale, zero


def round_to_grid(col: torch.Tensor, scale: torch.Tensor, zero: torch.Tensor, maxq: int) -> torch.Tensor:
    return scale * (torch.clamp(torch.round(col / scale) + zero, 0, maxq) - zero)


def reference_gptq(w0: torch.Tensor, h0: torch.Tensor, group: int, dynamic: bool) -> torch.Tensor:
    """GPTQ with act-order: q_i = quant(w_i); W_F -= (w_i - q_i) / [H_F^-1]_ii * [H_F^-1]_i,F.

    Uses the Cholesky form of the paper: U upper with H^-1 = U^T U, row i of U holds the scaled
    inverse-Hessian row of the remaining columns. dynamic: group grid fit on the current permuted
    columns perm[i:i+g] at i % g == 0; static: fit on the original groups before any update.
    """
    w = w0.clone().double()
    h = h0.clone().double()
    rows, cols = w.shape
    maxq = 2**BITS - 1
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += DAMP * torch.mean(torch.diag(h)) * torch.eye(cols, dtype=h.dtype)
    perm = torch.argsort(torch.diag(h), descending=True, stable=True)
    static_scale = static_zero = None
    if not dynamic:
        g = w.reshape(rows, cols // group, group)
        s, z = minmax_grid(g.permute(1, 0, 2).reshape(-1, group), maxq)
        static_scale, static_zero = s.reshape(cols // group, rows), z.reshape(cols // group, rows)
    w, h = w[:, perm], h[perm][:, perm]
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    scale = zero = None
    for i in range(cols):
        if dynamic:
            if i % group == 0:
                scale, zero = minmax_grid(w[:, i : i + group], maxq)
        else:
            assert static_scale is not None and static_zero is not None
            gi = int(perm[i]) // group
            scale, zero = static_scale[gi], static_zero[gi]
        assert scale is not None and zero is not None
        q = round_to_grid(w[:, i], scale, zero, maxq)
        err = (w[:, i] - q) / u[i, i]
        w[:, i + 1 :].addr_(err, u[i, i + 1 :], alpha=-1.0)  # in place: W_F -= err u_F^T
        w[:, i] = q
    return w[:, torch.argsort(perm)]


# ---------------------------------------------------------------- model, inputs, metric


def load_model() -> torch.nn.Module:
    from kick_models.embedded import converted_folder
    from transformers import AutoModelForCausalLM

    folder, _ = converted_folder()
    return AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()


def calibration_windows(n: int, seqlen: int, seed: int) -> torch.Tensor:
    from kick_models.embedded import converted_folder
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(converted_folder()[0]))
    path = REPO.parent / "shared" / "data" / "calibration" / "c4_validation_2k.jsonl"
    ids: list[int] = []
    with path.open() as f:
        for line in f:
            ids.extend(tok(json.loads(line)["text"])["input_ids"])
            if len(ids) > 4 * n * seqlen:
                break
    rng = random.Random(seed)
    starts = [rng.randrange(0, len(ids) - seqlen) for _ in range(n)]
    return torch.tensor([ids[s : s + seqlen] for s in starts])


def collect_hessians(
    model: torch.nn.Module, names: list[str], windows: torch.Tensor
) -> dict[str, torch.Tensor]:
    """H = 2 X^T X / n_tokens over the dense model's inputs to each named Linear (float64)."""
    mods = dict(model.named_modules())
    acc: dict[str, torch.Tensor] = {}
    count: dict[str, int] = {}

    def hook(name: str):  # noqa: ANN202
        def f(_m: torch.nn.Module, inp: tuple[torch.Tensor, ...]) -> None:
            x = inp[0].detach().reshape(-1, inp[0].shape[-1]).double()
            acc[name] = acc.get(name, 0) + x.T @ x
            count[name] = count.get(name, 0) + x.shape[0]

        return f

    handles = [mods[n].register_forward_pre_hook(hook(n)) for n in names]
    with torch.no_grad():
        for row in windows:
            model(row.unsqueeze(0))
    for hd in handles:
        hd.remove()
    return {n: 2.0 * acc[n] / count[n] for n in names}


def rel_err(w: torch.Tensor, q: torch.Tensor, h: torch.Tensor) -> float:
    """||(W - Q) X||_F^2 / ||W X||_F^2 = tr(D H D^T) / tr(W H W^T) (H undamped)."""
    d = (w - q).double()
    wd = w.double()
    return float(torch.sum((d @ h) * d) / torch.sum((wd @ h) * wd))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=16)
    ap.add_argument("--seqlen", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blocks", default="0,15,29")
    ap.add_argument("--layers", default="self_attn.q_proj,self_attn.o_proj,mlp.up_proj,mlp.down_proj")
    ap.add_argument("--groups", default="64,128")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from kick_quant.gptq_math import gptq_quantize

    t0 = time.time()
    model = load_model()
    windows = calibration_windows(args.windows, args.seqlen, args.seed)
    names = [f"model.layers.{b}.{lay}" for b in args.blocks.split(",") for lay in args.layers.split(",")]
    hess = collect_hessians(model, names, windows)
    mods = dict(model.named_modules())
    print(
        f"SmolLM2-135M-Instruct (Q4_1 GGUF dequantized: weights already on a 4-bit grid, groups of 32,"
        f" so these are RE-quantizations); {args.windows} x {args.seqlen} tokens of c4_validation;"
        f" {BITS}-bit asym, damp {DAMP}, act_order, float64; dense-model inputs (not sequential)"
    )
    print(
        "err = ||(W-Q)X||^2 / ||WX||^2;  kick = gptq_math.gptq_quantize (static groups);"
        " ref-dyn / ref-st = reference GPTQ, dynamic / static groups"
    )
    hdr = f"{'layer':<28} {'g':>4} {'kick':>10} {'ref-st':>10} {'ref-dyn':>10} {'dyn/st':>7} {'|kick-ref-st|max':>16}"
    print(hdr)
    print("-" * len(hdr))
    ratios: dict[int, list[float]] = {}
    for name in names:
        w = mods[name].weight.detach().double()
        h = hess[name]
        for g in (int(x) for x in args.groups.split(",")):
            if w.shape[1] % g:  # kick (check_widths) rejects such layers; so does its static-group fit
                print(f"{name}: skipped for g={g} (input width {w.shape[1]} not a multiple)")
                continue
            qk = gptq_quantize(w, h, bits=BITS, group_size=g, sym=False, act_order=True, damp=DAMP)
            qs = reference_gptq(w, h, g, dynamic=False)
            qd = reference_gptq(w, h, g, dynamic=True)
            ek, es, ed = rel_err(w, qk, h), rel_err(w, qs, h), rel_err(w, qd, h)
            ratios.setdefault(g, []).append(ed / ek)
            short = name.replace("model.layers.", "L").replace("self_attn.", "").replace("mlp.", "")
            print(
                f"{short + ' ' + str(tuple(w.shape)):<28} {g:>4} {ek:>10.3e} {es:>10.3e} {ed:>10.3e}"
                f" {ed / ek:>7.3f} {float((qk - qs).abs().max()):>16.2e}",
                flush=True,
            )
    for g, r in ratios.items():
        print(
            f"g={g}: dyn/static error ratio over {len(r)} layers: min {min(r):.3f}  max {max(r):.3f}"
            f"  geo-mean {float(torch.tensor(r).log().mean().exp()):.3f}"
        )
    print(f"total {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
