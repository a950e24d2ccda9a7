"""The optional llm-compressor plugin: a recipe (file or preset) applied with `oneshot` on kick's
calibration windows, evaluated like the built-ins, written by kick compress as a
compressed-tensors checkpoint that `kick eval --reference` evaluates against its base.

llm-compressor pins an older transformers than kick's main environment, so the end-to-end test
runs where it is installed (a separate venv); the missing-package line is tested everywhere."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
from pathlib import Path

import kick_llmcompressor
import pytest
from support.fake_plugin import plugin as fake_plugin
from support.tiny import save_tiny_llama

from kick.errors import SpecError
from kick.plugins import load_plugins

HAVE_LLMC = importlib.util.find_spec("llmcompressor") is not None
RECIPE = """\
quant_stage:
  quant_modifiers:
    GPTQModifier:
      ignore: [lm_head]
      config_groups:
        group_0:
          targets: [Linear]
          weights: {num_bits: 4, type: int, symmetric: true, strategy: group, group_size: 32}
"""


def plugins():
    installed = {ep.name for ep in importlib.metadata.entry_points(group="kick.plugins")}
    extra = [("fake", fake_plugin)]
    if "llmcompressor" not in installed:
        extra.append(("llmcompressor", kick_llmcompressor))
    return load_plugins(extra=extra)


def test_missing_llmcompressor_is_one_line_naming_the_extra(monkeypatch, tmp_path: Path, cli) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "llmcompressor" else real(n, *a)
    )
    with pytest.raises(SpecError, match=r"kick\[llmcompressor\]"):
        plugins().registry.create("compressor", "llmcompressor")
    out = tmp_path / "run"
    res = cli(
        "run",
        "/not/loaded",
        "--method",
        "llmcompressor",
        "--task",
        "tiny-ppl",
        "--out",
        out,
        plugins=plugins(),
    )
    assert res.exit_code == 2 and "needs llm-compressor" in res.output and not out.exists()


@pytest.mark.skipif(not HAVE_LLMC, reason="llm-compressor is installed in its own venv (see the README)")
def test_unknown_recipe_is_refused_before_any_work() -> None:
    with pytest.raises(SpecError, match="neither a file nor a preset"):
        plugins().registry.create("compressor", "llmcompressor", recipe="W3A5")


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_LLMC, reason="llm-compressor is installed in its own venv (see the README)")
def test_awq_preset_is_refused_on_a_machine_without_an_accelerator() -> None:
    import torch

    if torch.accelerator.current_accelerator() is not None:
        pytest.skip("this machine has an accelerator")
    with pytest.raises(SpecError, match="AWQ modifier .* needs a GPU"):
        plugins().registry.create("compressor", "llmcompressor", recipe="awq-w4a16")


@pytest.mark.torch
@pytest.mark.skipif(not HAVE_LLMC, reason="llm-compressor is installed in its own venv (see the README)")
def test_gptq_w4a16_recipe_end_to_end_run_compress_and_eval_against_reference(tmp_path: Path, cli) -> None:
    dense = save_tiny_llama(str(tmp_path / "dense"))
    recipe = tmp_path / "w4a16-g32.yaml"
    recipe.write_text(RECIPE)
    params = ["--param", f"recipe={recipe}", "--param", "calibration=text:" + " ".join(["w1 w2 w3"] * 300),
              "--param", "nsamples=4", "--param", "seqlen=32"]  # fmt: skip
    res = cli("run", dense, "--method", "llmcompressor", *params, "--task", "tiny-ppl", "--out", tmp_path / "mem",
              plugins=plugins())  # fmt: skip
    assert res.exit_code == 0, res.output
    mem = json.loads((tmp_path / "mem" / "summary.json").read_text())
    comp = mem["compression"]
    assert comp["recipe"] == RECIPE and comp["calibration"]["nsamples"] == 4
    weights = comp["quantization_config"]["config_groups"]["group_0"]["weights"]
    assert weights["num_bits"] == 4 and weights["group_size"] == 32
    m = mem["tasks"]["tiny-ppl"]["metrics"]
    assert m["compressed"]["ppl"] != m["dense"]["ppl"]

    out = tmp_path / "packed"
    res = cli("compress", dense, "--method", "llmcompressor", *params, "--out", out, plugins=plugins())
    assert res.exit_code == 0, res.output
    qc = json.loads((out / "config.json").read_text())["quantization_config"]
    assert qc["quant_method"] == "compressed-tensors" and qc["format"] == "pack-quantized"

    res = cli(
        "eval", out, "--reference", dense, "--task", "tiny-ppl", "--out", tmp_path / "ev", plugins=plugins()
    )
    assert res.exit_code == 0, res.output
    ev = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert ev["compression"]["quantization_config"]["format"] == "pack-quantized"
    got = ev["tasks"]["tiny-ppl"]["metrics"]["compressed"]["ppl"]
    assert got == pytest.approx(m["compressed"]["ppl"], rel=1e-5)
