"""Packed checkpoints: kick compress writes gptq / rtn as integer weights with scales and zero
points in the compressed-tensors format; the folder reloads with from_pretrained and gives the
in-memory fake-quantized model's logits. Pruned models stay dense, optionally in bf16."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from kick_quant.grid import recover_grid
from kick_quant.quantizer import rtn_quantize
from safetensors import safe_open
from support.tiny import random_text, save_tiny_llama

from kick.errors import KickError
from kick.plugins import load_plugins
from kick.types import ModelSpec

pytestmark = pytest.mark.torch

CALIB = "text:" + random_text(1500)
IDS = torch.tensor([[5, 17, 42, 99, 7, 3, 250, 11, 64, 128]])


@pytest.mark.parametrize("bits", [2, 3, 4, 8])
@pytest.mark.parametrize("group_size,sym", [(32, False), (16, True), (-1, False), (-1, True)])
def test_recovered_grid_reproduces_rtn_weights_with_integers_in_range(bits, group_size, sym) -> None:
    w = torch.randn(24, 64, generator=torch.Generator().manual_seed(bits))
    fake = rtn_quantize(w, bits, group_size, sym)
    grid = recover_grid(fake, bits=bits, group_size=group_size, sym=sym)
    assert grid.q.dtype == torch.int8
    assert int(grid.q.min()) >= -(2 ** (bits - 1)) and int(grid.q.max()) <= 2 ** (bits - 1) - 1
    assert (grid.zero is None) == sym
    groups = 1 if group_size == -1 else 64 // group_size
    assert grid.scale.shape == (24, groups)
    assert grid.max_abs_error <= 1e-6 * float(fake.abs().max())
    assert torch.allclose(grid.dequantize(group_size), fake, rtol=0, atol=1e-6)


def test_eight_bit_requantization_of_four_bit_weights_is_recovered() -> None:
    # like the embedded model (a dequantized 4-bit GGUF): weights with few distinct values use
    # only every ~64th level of an 8-bit grid, so no two values are one step apart
    g = torch.Generator().manual_seed(3)
    w = torch.randint(-2, 3, (16, 64), generator=g) / 2 * torch.rand(16, 1, generator=g)
    fake = rtn_quantize(w, 8, 64, False)
    grid = recover_grid(fake, bits=8, group_size=64, sym=False)
    assert torch.allclose(grid.dequantize(64), fake, rtol=0, atol=1e-6)


def test_weights_off_the_grid_are_an_error_not_rounded() -> None:
    w = torch.randn(8, 32, generator=torch.Generator().manual_seed(0))
    with pytest.raises(KickError, match="not on a 4-bit grid"):
        recover_grid(w, bits=4, group_size=32, sym=False, name="layer.w")
    eight = rtn_quantize(w, 8, 32, False)  # 8-bit values need more than 16 levels a group
    with pytest.raises(KickError, match="4-bit"):
        recover_grid(eight, bits=4, group_size=32, sym=False)


def _fake_quantized_logits(src: str, method: str, params: dict) -> torch.Tensor:
    from kick_models.hf import HFModel

    plugins = load_plugins()
    model = HFModel.load(ModelSpec(src))
    plugins.registry.create("compressor", method, **params).compress(model)
    with torch.no_grad():
        return model.module(input_ids=IDS).logits


CASES = {
    "gptq-4-g32-asym-actorder": ("gptq", {"bits": 4, "group_size": 32, "act_order": True}),
    "gptq-2-g64-sym": ("gptq", {"bits": 2, "group_size": 64, "sym": True}),
    "rtn-8-channel-sym": ("rtn", {"bits": 8, "group_size": -1, "sym": True}),
    "rtn-3-g32-asym": ("rtn", {"bits": 3, "group_size": 32}),
}


@pytest.mark.parametrize("case", list(CASES))
def test_packed_checkpoint_reloads_with_the_in_memory_logits(case: str, tmp_path: Path, cli) -> None:
    from transformers import AutoModelForCausalLM

    method, params = CASES[case]
    if method == "gptq":
        params = {**params, "calibration": CALIB, "nsamples": 4, "seqlen": 32}
    src = save_tiny_llama(str(tmp_path / "tiny"))
    out = tmp_path / "packed"
    args = [a for k, v in params.items() for a in ("--param", f"{k}={v}")]
    res = cli("compress", src, "--method", method, *args, "--out", out, plugins=load_plugins())
    assert res.exit_code == 0, res.output

    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    assert qc["quant_method"] == "compressed-tensors" and qc["format"] == "pack-quantized"
    weights = qc["config_groups"]["group_0"]["weights"]
    assert weights["num_bits"] == params["bits"] and weights["type"] == "int"
    assert weights["symmetric"] == params.get("sym", False)
    assert weights["strategy"] == ("channel" if params["group_size"] == -1 else "group")
    assert qc["ignore"] == ["lm_head"]
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        keys = set(f.keys())
        packed = f.get_tensor("model.layers.0.mlp.down_proj.weight_packed")
    assert "model.layers.0.mlp.down_proj.weight" not in keys
    assert packed.dtype == torch.int32 and packed.shape == (64, 128 * params["bits"] // 32)
    assert ("model.layers.1.self_attn.q_proj.weight_zero_point" in keys) == (not params.get("sym", False))

    manifest = json.loads((out / "kick_compression.json").read_text())
    assert manifest["saved"]["quantization_config"] == qc
    assert manifest["saved"]["packing"]["max_abs_grid_error"] < 1e-6

    reloaded = AutoModelForCausalLM.from_pretrained(str(out))
    with torch.no_grad():
        got = reloaded(input_ids=IDS).logits
    want = _fake_quantized_logits(src, method, params)
    assert torch.allclose(got, want, rtol=0, atol=1e-5), float((got - want).abs().max())


def test_packed_four_bit_is_smaller_on_disk_than_dense(tmp_path: Path, cli) -> None:
    src = save_tiny_llama(str(tmp_path / "tiny"))
    sizes = {}
    for method, params in (("rtn", ["bits=4", "group_size=32"]), ("magnitude", ["sparsity=0.5"])):
        out = tmp_path / method
        args = [a for p in params for a in ("--param", p)]
        res = cli("compress", src, "--method", method, *args, "--out", out, plugins=load_plugins())
        assert res.exit_code == 0, res.output
        sizes[method] = json.loads((out / "kick_compression.json").read_text())["saved"]["size_on_disk"]
    dense = (Path(src) / "model.safetensors").stat().st_size
    assert sizes["magnitude"]["weights_bytes"] == pytest.approx(dense, rel=0.01)  # zeros stay dense
    # block Linears at 4 bits + one scale and zero per 32 weights; embeddings and head stay fp32
    assert sizes["rtn"]["weights_bytes"] < 0.6 * dense


def test_pruned_model_saved_in_bf16_keeps_its_exact_zeros(tmp_path: Path, cli) -> None:
    from transformers import AutoModelForCausalLM

    src = save_tiny_llama(str(tmp_path / "tiny"))
    fp32, bf16 = tmp_path / "fp32", tmp_path / "bf16"
    for out, extra in ((fp32, []), (bf16, ["--save-dtype", "bf16"])):
        res = cli("compress", src, "--method", "magnitude", "--param", "sparsity=0.5", *extra, "--out", out,
                  plugins=load_plugins())  # fmt: skip
        assert res.exit_code == 0, res.output
    a = AutoModelForCausalLM.from_pretrained(str(fp32))
    b = AutoModelForCausalLM.from_pretrained(str(bf16))
    assert json.loads((bf16 / "config.json").read_text())["dtype"] == "bfloat16"
    assert b.model.layers[0].mlp.up_proj.weight.dtype == torch.bfloat16
    for name, p in a.named_parameters():
        q = dict(b.named_parameters())[name]
        assert torch.equal(p == 0, q == 0), name
    manifest = json.loads((bf16 / "kick_compression.json").read_text())["saved"]
    assert manifest["save_dtype"] == "bfloat16" and manifest["quantization_config"] is None
    dense = (fp32 / "model.safetensors").stat().st_size
    assert manifest["size_on_disk"]["weights_bytes"] == pytest.approx(dense / 2, rel=0.02)


def test_bad_save_dtype_is_one_line_before_any_work(tmp_path: Path, cli) -> None:
    out = tmp_path / "out"
    res = cli("compress", "/does/not/exist", "--method", "rtn", "--save-dtype", "int4", "--out", out,
              plugins=load_plugins())  # fmt: skip
    assert res.exit_code == 2 and "--save-dtype must be one of" in res.output and not out.exists()
