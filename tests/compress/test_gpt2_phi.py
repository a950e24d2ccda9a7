"""GPT-2 (Conv1D layers, weights stored transposed) and Phi / Phi-3 blocks: found, compressed by
every kind of method, outputs unchanged by the Conv1D conversion, and a compressed GPT-2 saves in
GPT-2's own layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from kick_layerwise.topology import Conv1DLinear, find_blocks
from kick_prune.magnitude import make_magnitude
from kick_prune.wanda import make_wanda
from kick_quant.gptq import make_gptq
from support.tiny import hf_model, random_text, word_tokenizer

pytestmark = pytest.mark.torch

CALIB = {"calibration": "text:" + random_text(3000), "nsamples": 4, "seqlen": 32}
IDS = torch.arange(2, 20).reshape(1, 18)


def _gpt2() -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    return GPT2LMHeadModel(GPT2Config(n_embd=64, n_layer=2, n_head=4, vocab_size=122, n_positions=128)).eval()


def _phi() -> Any:
    from transformers import PhiConfig, PhiForCausalLM

    torch.manual_seed(0)
    cfg = PhiConfig(vocab_size=122, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                    num_attention_heads=4, max_position_embeddings=128)  # fmt: skip
    return PhiForCausalLM(cfg).eval()


def _phi3() -> Any:
    from transformers import Phi3Config, Phi3ForCausalLM

    torch.manual_seed(0)
    cfg = Phi3Config(vocab_size=122, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=128,
                     pad_token_id=0)  # fmt: skip
    return Phi3ForCausalLM(cfg).eval()


def _logits(module: Any) -> torch.Tensor:
    with torch.no_grad():
        return module(input_ids=IDS).logits


def test_gpt2_conv1d_layers_become_linears_with_the_same_outputs() -> None:
    module = _gpt2()
    before = _logits(module)
    conv_weight = module.transformer.h[0].attn.c_attn.weight.detach().clone()  # [in, out]
    topo = find_blocks(module)
    assert topo.family == "gpt2" and list(topo.blocks[0].linears) == [
        "0.attn.c_attn", "0.attn.c_proj", "0.mlp.c_fc", "0.mlp.c_proj",
    ]  # fmt: skip
    lin = module.transformer.h[0].attn.c_attn
    assert isinstance(lin, Conv1DLinear) and (lin.in_features, lin.out_features) == (64, 192)
    assert torch.equal(lin.weight, conv_weight.t())
    assert torch.allclose(_logits(module), before, atol=1e-5)
    # the state dict keeps GPT-2's layout, so the compressed model loads as a plain GPT-2
    assert module.state_dict()["transformer.h.0.attn.c_attn.weight"].shape == (64, 192)


@pytest.mark.parametrize(("build", "family", "per_block"), [(_gpt2, "gpt2", 4), (_phi, "phi", 6), (_phi3, "phi3", 4)])
@pytest.mark.parametrize(("factory", "params"), [(make_magnitude, {}), (make_wanda, CALIB),
                                                 (make_gptq, {**CALIB, "group_size": 32})])  # fmt: skip
def test_gpt2_and_phi_compress_with_every_kind_of_method(
    build: Any, family: str, per_block: int, factory: Any, params: dict[str, Any]
) -> None:
    model = hf_model(build(), word_tokenizer())
    stats = dict(factory(**params).compress(model))
    assert stats["architecture"]["family"] == family and stats["architecture"]["linears_per_block"] == per_block
    if factory is not make_gptq:
        assert abs(stats["sparsity"] - 0.5) < 1e-3
    else:
        assert stats["quantization"]["within_grid"]
    assert torch.isfinite(_logits(model.module)).all()


def test_a_pruned_gpt2_saves_and_loads_as_gpt2_with_its_zeros(tmp_path: Path) -> None:
    from transformers import GPT2LMHeadModel

    model = hf_model(_gpt2(), word_tokenizer())
    make_magnitude(sparsity=0.5).compress(model)
    after = _logits(model.module)
    model.module.save_pretrained(tmp_path / "m")
    loaded = GPT2LMHeadModel.from_pretrained(tmp_path / "m").eval()
    w = loaded.transformer.h[1].mlp.c_fc.weight
    assert type(loaded.transformer.h[1].mlp.c_fc).__name__ == "Conv1D" and (w == 0).float().mean() == 0.5
    assert torch.allclose(_logits(loaded), after, atol=1e-5)
