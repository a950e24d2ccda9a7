"""`kick eval COMPRESSED --reference DENSE` and the sweep's `{ model, reference }` entry: a
checkpoint kick compress wrote (packed compressed-tensors) is evaluated against its dense base
with the same comparison as the in-memory compressed model, and its quantization config is
recorded; a format whose library is missing names the package before any work."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from support.fake_plugin import plugin as fake_plugin
from support.tiny import save_tiny_llama

from kick.plugins import load_plugins
from kick.reference import split_references
from kick.sweep import run_sweep
from kick.sweep_spec import levels_from, parse_sweep_spec

pytestmark = pytest.mark.torch
RTN = ["--param", "bits=4", "--param", "group_size=32"]


def plugins():
    return load_plugins(extra=[("fake", fake_plugin)])


@pytest.fixture
def packed(tmp_path: Path, cli) -> tuple[str, Path]:
    dense = save_tiny_llama(str(tmp_path / "dense"))
    out = tmp_path / "packed"
    res = cli("compress", dense, "--method", "rtn", *RTN, "--out", out, plugins=plugins())
    assert res.exit_code == 0, res.output
    return dense, out


def test_eval_reference_compares_the_checkpoint_like_the_in_memory_compression(packed, tmp_path, cli) -> None:
    dense, ckpt = packed
    res = cli(
        "eval", ckpt, "--reference", dense, "--task", "tiny-ppl", "--out", tmp_path / "ev", plugins=plugins()
    )
    assert res.exit_code == 0, res.output
    ev = json.loads((tmp_path / "ev" / "summary.json").read_text())
    res = cli(
        "run",
        dense,
        "--method",
        "rtn",
        *RTN,
        "--task",
        "tiny-ppl",
        "--out",
        tmp_path / "mem",
        plugins=plugins(),
    )
    assert res.exit_code == 0, res.output
    mem = json.loads((tmp_path / "mem" / "summary.json").read_text())

    assert ev["variants"] == ["dense", "compressed"] and ev["model"]["id"] == dense
    comp = ev["compression"]
    assert comp["method"] == "checkpoint" and comp["checkpoint"]["id"] == str(ckpt)
    qc = comp["quantization_config"]
    assert qc["quant_method"] == "compressed-tensors" and qc["format"] == "pack-quantized"
    assert qc["config_groups"]["group_0"]["weights"]["num_bits"] == 4
    assert comp["size_on_disk"]["weights_bytes"] == (ckpt / "model.safetensors").stat().st_size
    e, m = ev["tasks"]["tiny-ppl"], mem["tasks"]["tiny-ppl"]
    assert e["metrics"]["dense"]["ppl"] == m["metrics"]["dense"]["ppl"]
    assert e["metrics"]["compressed"]["ppl"] == pytest.approx(m["metrics"]["compressed"]["ppl"], rel=1e-6)
    assert e["metrics"]["compressed"]["ppl"] != e["metrics"]["dense"]["ppl"]
    assert e["comparison"]["ppl"]["verdict"] == m["comparison"]["ppl"]["verdict"]


def test_checkpoint_format_with_a_missing_library_names_the_package(monkeypatch, tmp_path, cli) -> None:
    folder = tmp_path / "gptq-model"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"quantization_config": {"quant_method": "gptq", "bits": 4}})
    )
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "gptqmodel" else real(n, *a))
    out = tmp_path / "ev"
    res = cli(
        "eval", folder, "--reference", "/not/loaded", "--task", "tiny-ppl", "--out", out, plugins=plugins()
    )
    assert res.exit_code == 2 and "pip install gptqmodel" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_reference_equal_to_the_model_is_refused(tmp_path, cli) -> None:
    res = cli(
        "eval", "m", "--reference", "m", "--task", "tiny-ppl", "--out", tmp_path / "o", plugins=plugins()
    )
    assert res.exit_code == 2 and "--reference" in res.output


def test_sweep_reference_entries_become_checkpoint_cells_of_their_reference() -> None:
    data = {"models": [{"model": "ck4", "reference": "base"}, "other", {"model": "ck8", "reference": "base"}],
            "tasks": ["tiny-ppl"]}  # fmt: skip
    stripped, cells = split_references(data)
    assert stripped["models"] == ["base", "other"]
    assert [c[2] for c in cells["base"]] == ["checkpoint-ck4", "checkpoint-ck8"]
    sweep = parse_sweep_spec(data, levels_of=levels_from(plugins()))
    assert [m.name for m in sweep.models] == ["base", "other"]
    assert [(c.model, c.method, dict(c.params)) for c in sweep.cells] == [
        ("base", "checkpoint", {"path": "ck4"}), ("base", "checkpoint", {"path": "ck8"})
    ]  # fmt: skip


def test_sweep_evaluates_a_packed_checkpoint_against_its_reference(packed, tmp_path) -> None:
    dense, ckpt = packed
    data = {"models": [{"model": str(ckpt), "reference": dense}], "tasks": ["tiny-ppl"]}
    run_sweep(parse_sweep_spec(data, levels_of=levels_from(plugins())), tmp_path / "sw", plugins=plugins())
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "sw").rglob("summary.json")]
    cell = next(s for s in summaries if (s.get("compression") or {}).get("method") == "checkpoint")
    assert cell["compression"]["quantization_config"]["format"] == "pack-quantized"
    metrics = cell["tasks"]["tiny-ppl"]["metrics"]
    assert metrics["compressed"]["ppl"] != metrics["dense"]["ppl"]
    assert "ppl" in cell["tasks"]["tiny-ppl"]["comparison"]
