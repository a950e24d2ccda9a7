"""Compressors end to end on tiny random models: targets reached, model still runs, determinism,
bad inputs rejected before anything changes, sequential calibration, topology of other families."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import torch
from kick_layerwise.engine import CalibrationSettings, Plan, run_plan
from kick_layerwise.topology import find_blocks
from kick_prune.magnitude import make_magnitude
from kick_prune.sparsegpt import make_sparsegpt
from kick_prune.wanda import make_wanda
from kick_quant.gptq import make_gptq
from kick_quant.rtn import make_rtn
from support.tiny import hf_model, random_text, tiny_llama, word_tokenizer

from kick.errors import KickError, ModelLoadError, SpecError

pytestmark = pytest.mark.torch

CALIB = dict(calibration="text:" + random_text(3000), nsamples=8, seqlen=32)

FACTORIES = {
    "magnitude": make_magnitude,
    "wanda": make_wanda,
    "sparsegpt": make_sparsegpt,
    "gptq": make_gptq,
    "rtn": make_rtn,
}
CALIBRATED = {"wanda", "sparsegpt", "gptq"}


def params_for(method: str, **extra: Any) -> dict[str, Any]:
    params = dict(CALIB) if method in CALIBRATED else {}
    if method in ("gptq", "rtn"):
        params["group_size"] = 32
    params.update(extra)
    return params


def tiny_model(seed: int = 0) -> Any:
    """The tiny Llama with the word-level tokenizer (calibration text tokenizes exactly)."""
    return tiny_llama(seed, tokenizer="words")


def linear_weights(module: Any) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in module.named_parameters()}


def compress(method: str, model: Any = None, **extra: Any) -> tuple[Any, dict[str, Any]]:
    model = model or tiny_model()
    stats = dict(FACTORIES[method](**params_for(method, **extra)).compress(model))
    return model, stats


def logits(model: Any) -> torch.Tensor:
    ids = torch.arange(2, 34).reshape(1, 32)
    with torch.no_grad():
        return model.module(input_ids=ids).logits


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize("sparsity", [0.5, 0.3])
def test_pruning_reaches_target_sparsity_in_every_matrix(method: str, sparsity: float) -> None:
    model, stats = compress(method, sparsity=sparsity)
    assert len(stats["layers"]) == 2 * 7
    for layer in stats["layers"]:
        rows, cols = layer["shape"]
        expected = {  # the reference implementations' counts (all widths here are <= blocksize 128)
            "magnitude": int(rows * cols * sparsity),
            "wanda": rows * int(cols * sparsity),
            "sparsegpt": int(rows * cols * sparsity) + 1,
        }[method]
        assert layer["zeros"] == expected, layer
    assert abs(stats["sparsity"] - sparsity) < 0.01
    assert torch.isfinite(logits(model)).all()
    json.dumps(stats)  # JSON-serialisable


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt"])
@pytest.mark.parametrize("pattern", ["2:4", "4:8"])
def test_nm_pruning_leaves_exactly_n_in_every_group(method: str, pattern: str) -> None:
    model, stats = compress(method, pattern=pattern)
    n, m = map(int, pattern.split(":"))
    assert stats["nm"] == {"n": n, "m": m, "groups": stats["numel"] // m, "groups_violating": 0, "ok": True}
    topo = find_blocks(model.module)
    for _name, lin in topo.linears():
        alive = (lin.weight.reshape(lin.weight.shape[0], -1, m) != 0).sum(-1)
        assert bool((alive == n).all())
    assert stats["sparsity"] == pytest.approx(1 - n / m)


@pytest.mark.parametrize(("method", "bits"), [("gptq", 4), ("gptq", 3), ("rtn", 4), ("rtn", 2), ("gptq", 8)])
def test_quantizers_put_every_group_on_at_most_two_to_the_bits_levels(method: str, bits: int) -> None:
    before = tiny_model()
    model, stats = compress(method, bits=bits)
    q = stats["quantization"]
    assert q["bits"] == bits and q["group_size"] == 32
    assert 2 <= q["max_levels_per_group"] <= 2**bits and q["within_grid"]
    changed = [
        n
        for n, w in linear_weights(model.module).items()
        if not torch.equal(w, linear_weights(before.module)[n])
    ]
    assert len(changed) == 14  # every block Linear, and nothing else
    assert all(".layers." in n and "norm" not in n for n in changed)
    assert torch.isfinite(logits(model)).all()


def test_gptq_act_order_and_per_channel_stay_on_grid() -> None:
    _m, stats = compress("gptq", bits=4, act_order=True)
    assert stats["quantization"]["max_levels_per_group"] <= 16
    _m, stats = compress("gptq", bits=3, group_size=-1, sym=True)
    assert stats["quantization"]["max_levels_per_group"] <= 8


@pytest.mark.parametrize("method", ["magnitude", "wanda", "sparsegpt", "gptq", "rtn"])
def test_embeddings_and_lm_head_are_never_touched(method: str) -> None:
    before = linear_weights(tiny_model().module)
    model, _stats = compress(method)
    after = linear_weights(model.module)
    for name in ("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight"):
        assert torch.equal(before[name], after[name])


@pytest.mark.parametrize("method", ["wanda", "sparsegpt", "gptq"])
def test_same_seed_twice_gives_bit_identical_weights(method: str) -> None:
    a, sa = compress(method)
    b, sb = compress(method)
    wa, wb = linear_weights(a.module), linear_weights(b.module)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert sa["calibration"] == sb["calibration"]
    c, sc = compress(method, seed=1)
    assert sc["calibration"]["seed"] == 1
    assert any(not torch.equal(wa[k], v) for k, v in linear_weights(c.module).items())


def test_stats_record_method_config_calibration_time_and_memory() -> None:
    _m, stats = compress("sparsegpt", sparsity=0.5)
    assert stats["method"] == "sparsegpt"
    assert (
        stats["config"]["sparsity"] == 0.5
        and stats["config"]["damp"] == 0.01
        and stats["config"]["blocksize"] == 128
    )
    cal = stats["calibration"]
    assert cal["source"] == "inline" and len(cal["sha256"]) == 64
    assert (cal["nsamples"], cal["seqlen"], cal["seed"]) == (8, 32, 0)
    assert stats["seconds"] > 0 and len(stats["seconds_per_block"]) == 2
    assert stats["memory"]["peak_rss_bytes"] > 10 * 2**20
    assert stats["architecture"]["family"] == "llama"


# --- bad inputs: one SpecError, nothing modified ---------------------------------------------------


@pytest.mark.parametrize(
    ("method", "params", "match"),
    [
        ("magnitude", {"sparsity": 1.0}, "sparsity"),
        ("wanda", {"sparsity": -0.1}, "sparsity"),
        ("sparsegpt", {"pattern": "4:4"}, "N < M"),
        ("magnitude", {"pattern": "two:four"}, "pattern"),
        ("gptq", {"bits": 5}, "bits"),
        ("rtn", {"bits": 16}, "bits"),
        ("gptq", {"group_size": 0}, "group_size"),
        ("gptq", {"damp": 0}, "damp"),
        ("wanda", {"nsamples": 0}, "nsamples"),
        ("sparsegpt", {"sparsty": 0.5}, "did you mean"),
    ],
)
def test_bad_parameters_are_spec_errors_at_construction(
    method: str, params: dict[str, Any], match: str
) -> None:
    with pytest.raises(SpecError, match=match):
        FACTORIES[method](**params)


def test_sparsegpt_refuses_a_blocksize_that_m_does_not_divide() -> None:
    with pytest.raises(SpecError, match="sparsegpt: blocksize=6 is not a multiple of M=4 \\(pattern 2:4\\)"):
        make_sparsegpt(pattern="2:4", blocksize=6)
    assert make_sparsegpt(pattern="2:4", blocksize=8).config.blocksize == 8
    assert make_sparsegpt(blocksize=6).config.blocksize == 6  # unstructured: any block size


@pytest.mark.parametrize("method", ["gptq", "rtn"])
def test_quantizers_report_exact_zeros_as_zeros_not_sparsity(method: str) -> None:
    _, stats = compress(method, bits=2)
    assert "sparsity" not in stats and "target_sparsity" not in stats
    assert stats["zero_fraction"] == stats["zeros"] / stats["numel"] > 0  # 2-bit grids round many to 0
    assert all("sparsity" not in layer and "zero_fraction" in layer for layer in stats["layers"])
    assert "not pruned" in stats["zeros_note"]


@pytest.mark.parametrize(
    ("method", "extra", "match"),
    [
        ("rtn", {"group_size": 48}, "does not divide the input width 64"),
        ("gptq", {"group_size": 48}, "does not divide"),
        ("magnitude", {"pattern": "2:3"}, "M=3 does not divide"),
        ("wanda", {"pattern": "1:3"}, "M=3 does not divide"),
        ("sparsegpt", {"calibration": "text:" + random_text(20)}, "no document is longer than seqlen=32"),
        ("wanda", {"calibration": "text:" + random_text(20), "sampler": "concat"}, "shorter than one window"),
        ("gptq", {"calibration": "/nonexistent/calib.jsonl"}, "no such file"),
    ],
)
def test_bad_inputs_raise_before_any_weight_changes(method: str, extra: dict[str, Any], match: str) -> None:
    model = tiny_model()
    before = linear_weights(model.module)
    compressor = FACTORIES[method](**params_for(method, **extra))
    with pytest.raises(SpecError, match=match):
        compressor.compress(model)
    after = linear_weights(model.module)
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_unsupported_architecture_is_a_clear_error_naming_what_was_looked_for() -> None:
    from transformers import BloomConfig, BloomForCausalLM

    model = BloomForCausalLM(BloomConfig(hidden_size=32, n_layer=1, n_head=2, vocab_size=50))
    with pytest.raises(ModelLoadError, match=r"unsupported architecture BloomForCausalLM.*supports .*gpt2.*model\.layers") as e:
        make_magnitude().compress(hf_model(model, word_tokenizer()))
    assert isinstance(e.value, KickError)


# --- topology of other families ---------------------------------------------------------------------


def _opt() -> Any:
    from transformers import OPTConfig, OPTForCausalLM

    torch.manual_seed(0)
    return OPTForCausalLM(
        OPTConfig(
            vocab_size=122,
            hidden_size=64,
            ffn_dim=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=128,
            word_embed_proj_dim=64,
        )
    ).eval()


def _neox() -> Any:
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    torch.manual_seed(0)
    return GPTNeoXForCausalLM(
        GPTNeoXConfig(
            vocab_size=122,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=128,
        )
    ).eval()


@pytest.mark.parametrize(("build", "family", "per_block"), [(_opt, "opt", 6), (_neox, "gpt_neox", 4)])
@pytest.mark.parametrize("method", ["wanda", "sparsegpt", "gptq"])
def test_other_families_are_found_and_compressed_sequentially(
    build: Any, family: str, per_block: int, method: str
) -> None:
    model = hf_model(build(), word_tokenizer())
    topo = find_blocks(model.module)
    assert topo.family == family and len(topo.blocks) == 2 and len(topo.blocks[0].linears) == per_block
    _m, stats = compress(method, model)
    assert stats["architecture"]["family"] == family
    if method != "gptq":
        assert abs(stats["sparsity"] - 0.5) < 1e-3
    with torch.no_grad():
        assert torch.isfinite(model.module(input_ids=torch.arange(2, 20).reshape(1, 18)).logits).all()


def test_llama_family_finds_seven_linears_per_block_in_order() -> None:
    topo = find_blocks(tiny_model().module)
    assert list(topo.blocks[1].linears) == [
        "1.self_attn.q_proj",
        "1.self_attn.k_proj",
        "1.self_attn.v_proj",
        "1.self_attn.o_proj",
        "1.mlp.gate_proj",
        "1.mlp.up_proj",
        "1.mlp.down_proj",
    ]


# --- sequential calibration ------------------------------------------------------------------------------


def _norms_at_block1(module: Any, input_ids: torch.Tensor) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    lin = module.model.layers[1].self_attn.q_proj
    handle = lin.register_forward_hook(lambda _m, i, _o: seen.append(i[0].reshape(-1, i[0].shape[-1])))
    with torch.no_grad():
        module(input_ids=input_ids, use_cache=False)
    handle.remove()
    return torch.cat(seen).pow(2).sum(0).sqrt()


def test_block_statistics_come_from_the_already_compressed_previous_block() -> None:
    from kick_layerwise.calibration import load_calibration
    from kick_prune.masks import prune_mask, wanda_score

    model = tiny_model()
    dense = tiny_model()
    recorded: dict[str, torch.Tensor] = {}

    def process(name: str, lin: torch.nn.Linear, norms: torch.Tensor) -> None:
        recorded[name] = norms.clone()
        lin.weight.data[prune_mask(wanda_score(lin.weight, norms), 0.5, None, per_row=True)] = 0

    settings = CalibrationSettings(CALIB["calibration"], 8, 32, 0, 3)  # batch 3: uneven last batch
    run_plan(
        model.module, model.tokenizer, Plan("spy", settings, process, statistic="norms", calibration=settings)
    )
    ids = load_calibration(model.tokenizer, CALIB["calibration"], nsamples=8, seqlen=32, seed=0).input_ids
    expected = _norms_at_block1(
        model.module, ids
    )  # q_proj sees the block input: block 0 compressed, block 1 not yet
    torch.testing.assert_close(recorded["1.self_attn.q_proj"], expected, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(recorded["1.self_attn.q_proj"], _norms_at_block1(dense.module, ids), rtol=1e-3)
    # q, k, v share one input, so one statistic
    assert recorded["1.self_attn.q_proj"] is not None
    torch.testing.assert_close(recorded["1.self_attn.q_proj"], recorded["1.self_attn.v_proj"])


def test_plugins_register_every_compressor_without_importing_torch() -> None:
    code = (
        "import sys, kick_prune, kick_quant; assert 'torch' not in sys.modules, 'torch imported';"
        "from kick.plugins import load_plugins; ps = load_plugins();"
        "print(sorted(n for p in ps.plugins if p.name in ('prune', 'quant') for n in p.provides.get('compressor', [])))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['fp4', 'gptq', 'llm-int8', 'magnitude', 'nf4', 'rtn', 'sparsegpt', 'wanda']"


def test_compressors_are_registered_lazily_and_declare_what_a_sweep_varies() -> None:
    from kick.plugins import load_plugins

    reg = load_plugins().registry
    levels = {n: reg.get("compressor", n).levels for n in FACTORIES}
    assert levels == {
        "magnitude": ("sparsity", "pattern"),
        "wanda": ("sparsity", "pattern"),
        "sparsegpt": ("sparsity", "pattern"),
        "gptq": ("bits",),
        "rtn": ("bits",),
    }
    for name, factory in FACTORIES.items():
        entry = reg.get("compressor", name)
        assert isinstance(entry.factory, str) and entry.resolve() is factory
    assert reg.create("compressor", "wanda", sparsity=0.3).config == make_wanda(sparsity=0.3).config


@pytest.mark.parametrize("method", ["magnitude", "wanda"])
def test_documented_pattern_unstructured_runs_and_reports(
    cli: Any, builtin_plugins: Any, tmp_path: Any, method: str
) -> None:
    """`--param pattern=unstructured` (a documented value) through `kick run` and `kick report`."""
    from support.tiny import save_tiny_llama

    src = save_tiny_llama(str(tmp_path / "tiny"))
    extra = [
        "--param",
        f"calibration={CALIB['calibration']}",
        "--param",
        "nsamples=4",
        "--param",
        "seqlen=32",
    ]
    args = [
        "--param",
        "pattern=unstructured",
        "--param",
        "sparsity=0.3",
        *(extra if method == "wanda" else []),
    ]
    res = cli(
        "run",
        src,
        "--method",
        method,
        *args,
        "--task",
        "tiny-ppl",
        "--out",
        tmp_path / "run",
        plugins=builtin_plugins,
    )
    assert res.exit_code == 0, res.output
    res = cli("report", tmp_path / "run", "--out", tmp_path / "rep", plugins=builtin_plugins)
    assert res.exit_code == 0, res.output
    assert f"{method} @ 30%" in (tmp_path / "rep" / "report.md").read_text()
