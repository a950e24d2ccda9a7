"""bitsandbytes methods (llm-int8, nf4, fp4) on the tiny Llama, on CPU: the block Linears are
swapped, the model still runs close to dense, the size statistics are measured, and a missing
bitsandbytes is one clear line before any work."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from support.fake_plugin import plugin as fake_plugin
from support.tiny import save_tiny_llama, tiny_llama

from kick.errors import SpecError
from kick.plugins import load_plugins
from kick.runner import run
from kick.types import ComponentSpec, ModelSpec, RunSpec

pytestmark = [
    pytest.mark.torch,
    pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs kick[bnb]"),
]


def create(name: str, **params: object):
    return load_plugins(eps=None).registry.create("compressor", name, **params)


def logits(model, ids: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.module(input_ids=ids).logits


IDS = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11]])


def test_llm_int8_swaps_block_linears_with_threshold_6_and_measures_its_bytes() -> None:
    import bitsandbytes as bnb

    model = tiny_llama()
    dense = logits(model, IDS)
    stats = create("llm-int8").compress(model)
    layer = model.module.model.layers[0].self_attn.q_proj
    assert isinstance(layer, bnb.nn.Linear8bitLt) and layer.state.threshold == 6.0
    assert layer.weight.dtype == torch.int8
    assert isinstance(model.module.lm_head, torch.nn.Linear)  # head and embeddings untouched
    assert stats["quantized_layers"] == 2 * 7
    # int8 values + one float32 scale per output row, measured from the tensors
    q = stats["layers"][0]
    rows, cols = q["shape"]
    assert q["values"] == rows * cols and q["constants"] == 4 * rows
    assert q["bits_per_weight"] == pytest.approx(8 + 32 / cols)
    assert stats["bits_per_weight"] == pytest.approx(8 * stats["quantized_weight_bytes"] / stats["numel"])
    assert stats["dense_weight_bytes"] == 4 * stats["numel"]
    out = logits(model, IDS)
    assert not torch.equal(out, dense) and (out - dense).abs().max() < 0.05 * dense.abs().max()


def test_threshold_keeps_outlier_columns_in_float_and_zero_does_not() -> None:
    dense = tiny_llama().module.model.layers[0].mlp.up_proj
    layers = {}
    for threshold in (6.0, 0.0):
        model = tiny_llama()
        create("llm-int8", threshold=threshold).compress(model)
        layers[threshold] = model.module.model.layers[0].mlp.up_proj
    assert layers[0.0].state.threshold == 0.0
    x = torch.randn(4, dense.in_features, generator=torch.Generator().manual_seed(0))
    x[:, 3] = 40.0  # one outlier feature: above 6.0, so LLM.int8() keeps that column in float
    with torch.no_grad():
        want = dense(x)
        err = {t: float((layer(x) - want).abs().max()) for t, layer in layers.items()}
    assert err[6.0] < err[0.0] / 2


@pytest.mark.parametrize("method", ["nf4", "fp4"])
def test_four_bit_stores_half_bytes_plus_block_constants(method: str) -> None:
    import bitsandbytes as bnb

    model = tiny_llama()
    dense = logits(model, IDS)
    stats = create(method).compress(model)
    layer = model.module.model.layers[1].mlp.down_proj
    assert isinstance(layer, bnb.nn.Linear4bit) and layer.weight.quant_state.quant_type == method
    q = stats["layers"][0]
    numel = q["numel"]
    assert q["values"] == numel // 2  # two 4-bit values per byte
    # one float32 absmax per block of 64 weights plus the 16-entry float32 code book
    assert q["constants"] == 4 * (numel // 64) + 16 * 4
    assert stats["bits_per_weight"] == pytest.approx(8 * stats["quantized_weight_bytes"] / stats["numel"])
    assert 4.5 <= stats["bits_per_weight"] < 5.0
    out = logits(model, IDS)
    assert not torch.equal(out, dense) and torch.isfinite(out).all()
    assert (out - dense).abs().max() < 0.5 * dense.abs().max()


def test_double_quant_shrinks_the_constants_and_nf4_differs_from_fp4() -> None:
    # wide MLPs: the second-level code book (256 floats a layer) is small against what it saves
    wide = dict(hidden_size=128, intermediate_size=2048)
    plain, double, fp4 = tiny_llama(**wide), tiny_llama(**wide), tiny_llama(**wide)
    s_plain = create("nf4").compress(plain)
    s_double = create("nf4", double_quant=True).compress(double)
    create("fp4").compress(fp4)
    assert s_double["quantized_weight_bytes"] < s_plain["quantized_weight_bytes"]
    assert s_double["bits_per_weight"] < s_plain["bits_per_weight"]
    assert not torch.equal(logits(plain, IDS), logits(fp4, IDS))


def test_compute_dtype_is_checked_and_used() -> None:
    with pytest.raises(SpecError, match="compute_dtype"):
        create("nf4", compute_dtype="int3")
    model = tiny_llama()
    create("nf4", compute_dtype="bfloat16").compress(model)
    assert model.module.model.layers[0].self_attn.o_proj.compute_dtype == torch.bfloat16


def test_missing_bitsandbytes_is_one_line_before_any_work(monkeypatch, tmp_path: Path, cli) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "bitsandbytes" else real(name, *a)
    )
    with pytest.raises(SpecError, match=r"pip install 'kick\[bnb\]'"):
        create("nf4")
    out = tmp_path / "run"
    res = cli("run", "/does/not/exist", "--method", "llm-int8", "--task", "tiny-ppl", "--out", out,
              plugins=load_plugins(extra=[("fake", fake_plugin)]))  # fmt: skip
    assert res.exit_code == 2 and "needs bitsandbytes" in res.output
    assert "Traceback" not in res.output and not out.exists()


def test_nf4_run_is_evaluated_like_the_others(tmp_path: Path) -> None:
    src = save_tiny_llama(str(tmp_path / "tiny"))
    spec = RunSpec(model=ModelSpec(src), tasks=(ComponentSpec("tiny-ppl"),), compression=ComponentSpec("nf4"))
    summary = run(spec, tmp_path / "run", plugins=load_plugins(extra=[("fake", fake_plugin)]))
    comp = json.loads((tmp_path / "run" / "compression.json").read_text())
    assert comp["method"] == "nf4" and comp["backend"]["library"] == "bitsandbytes"
    metrics = summary["tasks"]["tiny-ppl"]["metrics"]
    assert metrics["compressed"]["ppl"] != metrics["dense"]["ppl"]
    assert summary["tasks"]["tiny-ppl"]["comparison"]["ppl"]["verdict"] is not None


def test_kick_compress_refuses_bitsandbytes_before_loading(tmp_path: Path, cli) -> None:
    out = tmp_path / "out"
    res = cli("compress", "/does/not/exist", "--method", "nf4", "--out", out,
              plugins=load_plugins(extra=[("fake", fake_plugin)]))  # fmt: skip
    assert res.exit_code == 2 and "cannot be saved" in res.output and not out.exists()
