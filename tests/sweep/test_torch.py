"""The sweep on a real torch module: the tiny random Llama, pruned by the fake plugin's
torch-magnitude and scored by tiny-ppl (its token_nll), so deep copies of a real nn.Module and the
dense-once guarantee are exercised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support.tiny import tiny_llama

from kick.plugins import PluginSet
from kick.sweep import run_sweep
from kick.sweep_spec import levels_from, parse_sweep_spec

pytestmark = pytest.mark.torch


def test_tiny_llama_sweep_prunes_fresh_copies_and_perplexity_rises(
    tmp_path: Path, plugins: PluginSet
) -> None:
    loads: list[Any] = []

    def loader(spec: Any, ps: Any) -> Any:
        loads.append(tiny_llama())
        return loads[-1]

    spec = parse_sweep_spec(
        levels_of=levels_from(plugins),
        data={
            "model": "tiny",
            "methods": ["torch-magnitude"],
            "sparsity": [0.5, 0.9],
            "tasks": ["tiny-ppl"],
            "copy": "copy",
        },
    )
    run_sweep(spec, tmp_path, plugins=plugins, model_loader=loader)
    import json

    def summary(cell: str) -> Any:
        return json.loads((tmp_path / "tiny" / cell / "summary.json").read_text())

    assert len(loads) == 1 and int((loads[0].module.model.layers[0].mlp.up_proj.weight == 0).sum()) == 0
    assert summary("torch-magnitude-s0.5")["compression"]["sparsity"] == pytest.approx(0.5, abs=0.01)
    assert summary("torch-magnitude-s0.9")["compression"]["sparsity"] == pytest.approx(0.9, abs=0.01)
    dense = summary("dense")["tasks"]["tiny-ppl"]["metrics"]["dense"]["ppl"]
    p50 = summary("torch-magnitude-s0.5")["tasks"]["tiny-ppl"]
    assert p50["metrics"]["dense"]["ppl"] == dense
    assert p50["comparison"]["ppl"]["lower_is_better"] is True
    assert summary("torch-magnitude-s0.9")["tasks"]["tiny-ppl"]["metrics"]["compressed"]["ppl"] != dense
