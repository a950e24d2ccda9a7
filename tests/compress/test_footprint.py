"""Every run's summary carries each variant's footprint: weight bytes in memory, size on disk,
bits per weight, generation speed at batch 1 and 8, and peak memory during the evaluation."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from support.fake_plugin import plugin as fake_plugin
from support.tiny import save_tiny_llama

from kick.footprint import SPEED_BATCHES, SPEED_PROMPTS, merge_footprints
from kick.plugins import load_plugins
from kick.report.files import report_dir
from kick.runner import run
from kick.types import ComponentSpec, ModelSpec, RunSpec

pytestmark = pytest.mark.torch


def evaluate(tmp_path: Path, method: str, **params) -> dict:
    src = save_tiny_llama(str(tmp_path / "tiny"))
    spec = RunSpec(model=ModelSpec(src), tasks=(ComponentSpec("tiny-ppl"),),
                   compression=ComponentSpec(method, params))  # fmt: skip
    run(spec, tmp_path / method, plugins=load_plugins(extra=[("fake", fake_plugin)]))
    return json.loads((tmp_path / method / "summary.json").read_text())


def test_dense_and_packed_footprints_are_measured(tmp_path: Path) -> None:
    summary = evaluate(tmp_path, "rtn", bits=4, group_size=32)
    dense, comp = summary["footprint"]["dense"], summary["footprint"]["compressed"]
    params = summary["model"]["parameters"]
    # float32 parameters plus the rotary embedding's small buffer
    assert 4 * params <= dense["weight_bytes"] < 4 * params * 1.001
    assert dense["bits_per_weight"] == pytest.approx(32, rel=1e-3)
    assert dense["size_on_disk"] == (tmp_path / "tiny" / "model.safetensors").stat().st_size
    # rtn is evaluated fake-quantized in memory; what it ships as is the packed checkpoint
    assert comp["weight_bytes"] == dense["weight_bytes"]
    assert comp["size_on_disk"] < 0.6 * dense["size_on_disk"]
    for fp in (dense, comp):
        assert fp["peak_rss_bytes"] > 0
        gen = fp["generation"]
        assert gen["prompts"] == len(SPEED_PROMPTS)
        for b in SPEED_BATCHES:
            assert gen[f"batch_{b}"]["tokens"] > 0 and gen[f"batch_{b}"]["tokens_per_s"] > 0

    files = report_dir(tmp_path / "rtn", tmp_path / "rep")  # report.json rows and the size plot
    rows = json.loads((tmp_path / "rep" / "report.json").read_text())["footprints"]
    assert [(r["method"], r["size_on_disk"]) for r in rows] == [
        ("dense", dense["size_on_disk"]), ("rtn", comp["size_on_disk"])
    ]  # fmt: skip
    assert (
        rows[1]["scores"]["tiny-ppl"]["value"] == summary["tasks"]["tiny-ppl"]["metrics"]["compressed"]["ppl"]
    )
    assert rows[1]["tokens_per_s_batch_8"] == comp["generation"]["batch_8"]["tokens_per_s"]
    assert any(p.name.endswith("__tiny-ppl__size.png") for p in files.files)


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="needs kick[bnb]")
def test_bitsandbytes_weighs_less_in_memory_and_has_no_size_on_disk(tmp_path: Path) -> None:
    summary = evaluate(tmp_path, "nf4")
    dense, comp = summary["footprint"]["dense"], summary["footprint"]["compressed"]
    assert comp["weight_bytes"] < 0.75 * dense["weight_bytes"]
    assert comp["bits_per_weight"] < dense["bits_per_weight"]
    assert comp["size_on_disk"] is None  # bitsandbytes layers cannot be saved by kick


def test_a_cell_takes_the_dense_footprint_from_its_dense_run_and_a_rejudge_keeps_its_own() -> None:
    dense_summary = {"footprint": {"dense": {"weight_bytes": 10}}}
    got = merge_footprints({"compressed": {"weight_bytes": 4}}, ["compressed"], dense_summary, None)
    assert got == {"dense": {"weight_bytes": 10}, "compressed": {"weight_bytes": 4}}
    previous = {"footprint": {"dense": {"weight_bytes": 10}, "compressed": {"weight_bytes": 4}}}
    assert merge_footprints({}, ["dense", "compressed"], None, previous) == previous["footprint"]
    assert merge_footprints({}, ["dense"], None, None) == {"dense": None}
