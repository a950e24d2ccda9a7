from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from support import REPO_ROOT

from kick.errors import SpecError
from kick.sweep import plan
from kick.sweep_spec import cell_run_spec, parse_sweep_spec
from kick.types import Level

QUANTIZERS = ("gptq", "myquant")


def levels_of(method: str) -> tuple[str, ...]:
    """What each method of these specs declares it sweeps over (as a registry would say)."""
    return ("bits",) if method in QUANTIZERS else ("sparsity", "pattern")


def parse(data: dict) -> Any:
    return parse_sweep_spec(data, levels_of=levels_of)


def test_methods_times_levels_expand_into_cells_with_the_level_as_a_param() -> None:
    spec = parse(
        {
            "model": "m",
            "methods": ["magnitude", "wanda", "gptq"],
            "sparsity": [0.3, 0.5],
            "patterns": ["2:4"],
            "bits": [4, 8],
            "tasks": ["factoid-qa"],
            "params": {"wanda": {"calibration_samples": 16}},
        }
    )
    assert [c.name for c in spec.cells] == [
        "magnitude-s0.3", "magnitude-s0.5", "magnitude-2of4",
        "wanda-s0.3", "wanda-s0.5", "wanda-2of4",
        "gptq-4bit", "gptq-8bit",
    ]  # fmt: skip
    wanda_nm = spec.cells[5]
    assert dict(wanda_nm.params) == {"pattern": "2:4", "calibration_samples": 16}
    assert wanda_nm.level == Level("pattern", "2:4")
    assert dict(spec.cells[6].params) == {"bits": 4}


def test_dense_is_planned_once_per_model_before_its_cells(tmp_path: Path) -> None:
    spec = parse(
        {"models": ["a", "org/b"], "methods": ["magnitude"], "sparsity": [0.5], "tasks": ["t"], "limit": 3}
    )
    planned = plan(spec, tmp_path)
    assert [p.id for p in planned] == ["a/dense", "a/magnitude-s0.5", "org__b/dense", "org__b/magnitude-s0.5"]
    assert planned[0].spec.compression is None and planned[0].spec.include_dense
    assert planned[1].spec.compression is not None and not planned[1].spec.include_dense
    assert planned[3].path == tmp_path / "org__b" / "magnitude-s0.5"
    run = cell_run_spec(spec, spec.models[0], spec.cells[0])
    assert run.limit == 3 and dict(run.compression.params) == {"sparsity": 0.5}  # type: ignore[union-attr]


def test_explicit_cells_and_declared_bit_levels_and_per_method_levels() -> None:
    spec = parse(
        {
            "model": "m",
            "methods": ["magnitude", "myquant"],
            "sparsity": [0.5],
            "bits": [3],
            "levels": {"magnitude": {"sparsity": [0.1, 0.2]}},
            "tasks": ["t"],
            "cells": [{"method": "sparsegpt", "pattern": "4:8", "params": {"blocksize": 64}}],
        }
    )
    assert [(c.name, dict(c.params)) for c in spec.cells] == [
        ("magnitude-s0.1", {"sparsity": 0.1}),
        ("magnitude-s0.2", {"sparsity": 0.2}),
        ("myquant-3bit", {"bits": 3}),
        ("sparsegpt-4of8", {"pattern": "4:8", "blocksize": 64}),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"methods": ["m"], "tasks": ["t"], "sparsity": [1.5]}, "sparsity 1.5"),
        ({"methods": ["m"], "tasks": ["t"], "patterns": ["4:2"]}, "pattern '4:2'"),
        ({"methods": ["m"], "tasks": ["t"], "spasity": [0.5]}, "unknown key(s) spasity"),
        ({"methods": ["m"], "tasks": []}, "no tasks"),
        ({"methods": ["m"], "tasks": ["t"], "cells": [{"method": "m"}]}, "appear twice"),
        ({"methods": ["gptq"], "tasks": ["t"], "bits": [0]}, "bits 0"),
    ],
)
def test_a_bad_sweep_spec_is_one_clear_error(data: dict, message: str) -> None:
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse(data)


def test_demo_spec_is_dense_plus_three_pruners_at_half_and_2_4_plus_gptq_4bit() -> None:
    import tomllib

    root = REPO_ROOT
    with (root / "examples" / "demo.toml").open("rb") as f:
        spec = parse(tomllib.load(f))
    assert [m.name for m in spec.models] == ["smollm2-135m"]
    assert [c.name for c in spec.cells] == [
        "magnitude-s0.5", "magnitude-2of4", "wanda-s0.5", "wanda-2of4", "sparsegpt-s0.5", "sparsegpt-2of4",
        "gptq-4bit",
    ]  # fmt: skip
    assert [t.name for t in spec.tasks] == ["factoid-qa", "mmlu", "icrqa-closed", "icrqa-open", "perplexity"]
    assert spec.limit is not None and spec.limit <= 24  # measured: the demo then takes ~5 min on 2 cores
    # the calibrated methods use the project's own text, so the demo needs no corpus download
    calibrated = {c.method: dict(c.params) for c in spec.cells if c.method in ("wanda", "sparsegpt", "gptq")}
    assert set(calibrated) == {"wanda", "sparsegpt", "gptq"}
    for params in calibrated.values():
        assert (root / str(params["calibration"])).is_file()
        assert params["nsamples"] * params["seqlen"] <= 16 * 256
