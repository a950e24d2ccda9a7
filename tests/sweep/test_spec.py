from __future__ import annotations

import re
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


SEEDED = ("wanda", "sparsegpt", "gptq")


def seeded_of(method: str) -> bool:
    """Whether each method draws a calibration sample with its `seed` (as a registry would say)."""
    return method in SEEDED


def parse(data: dict) -> Any:
    return parse_sweep_spec(data, levels_of=levels_of, seeded_of=seeded_of)


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


SEEDED_SWEEP = {
    "model": "m",
    "methods": ["magnitude", "wanda", "gptq"],
    "sparsity": [0.5],
    "patterns": ["2:4"],
    "bits": [4],
    "tasks": ["t"],
    "seed": 7,
    "params": {"wanda": {"nsamples": 16}},
}


def test_seeds_run_each_seeded_cell_once_per_seed_and_unseeded_ones_once(tmp_path: Path) -> None:
    spec = parse({**SEEDED_SWEEP, "seeds": [0, 1]})
    assert [(c.name, c.seed) for c in spec.cells] == [
        ("magnitude-s0.5", None), ("magnitude-2of4", None),
        ("wanda-s0.5-seed0", 0), ("wanda-s0.5-seed1", 1), ("wanda-2of4-seed0", 0), ("wanda-2of4-seed1", 1),
        ("gptq-4bit-seed0", 0), ("gptq-4bit-seed1", 1),
    ]  # fmt: skip
    assert spec.seeds == (0, 1)
    wanda_nm_1 = spec.cells[5]
    assert dict(wanda_nm_1.params) == {"pattern": "2:4", "nsamples": 16, "seed": 1}
    assert wanda_nm_1.level == Level("pattern", "2:4")
    assert dict(spec.cells[0].params) == {"sparsity": 0.5}  # magnitude gets no seed param
    planned = plan(spec, tmp_path)
    assert [p.id for p in planned].count("m/dense") == 1 and len(planned) == 9
    # the task sample seed stays the sweep's for every cell: dense and compressed see the same items
    assert {p.spec.seed for p in planned} == {7}
    assert dict(planned[7].spec.compression.params) == {"bits": 4, "seed": 0}  # type: ignore[union-attr]
    assert planned[7].path == tmp_path / "m" / "gptq-4bit-seed0"
    assert planned[7].label == "gptq @ 4-bit seed 0" and planned[1].label == "magnitude @ 50%"


def test_without_seeds_cell_names_and_params_are_exactly_as_before() -> None:
    spec = parse(SEEDED_SWEEP)
    assert [(c.name, c.seed) for c in spec.cells] == [
        ("magnitude-s0.5", None), ("magnitude-2of4", None), ("wanda-s0.5", None), ("wanda-2of4", None),
        ("gptq-4bit", None),
    ]  # fmt: skip
    assert dict(spec.cells[2].params) == {"sparsity": 0.5, "nsamples": 16} and spec.seeds is None
    # a caller that knows nothing of seeds (levels_of only) parses a spec without seeds as before
    assert parse_sweep_spec(SEEDED_SWEEP, levels_of=levels_of).cells == spec.cells


def test_explicit_cells_of_a_seeded_method_are_run_once_per_seed_too() -> None:
    spec = parse(
        {
            "model": "m",
            "tasks": ["t"],
            "seeds": [3, 5],
            "cells": [
                {"method": "sparsegpt", "sparsity": 0.7, "name": "sgpt70"},
                {"method": "magnitude", "sparsity": 0.7},
            ],
        }
    )
    assert [(c.name, c.seed, dict(c.params)) for c in spec.cells] == [
        ("sgpt70-seed3", 3, {"sparsity": 0.7, "seed": 3}),
        ("sgpt70-seed5", 5, {"sparsity": 0.7, "seed": 5}),
        ("magnitude-s0.7", None, {"sparsity": 0.7}),
    ]


@pytest.mark.parametrize(
    ("seeds", "message"),
    [
        ([], "seeds [] is empty"),
        ([0, 1, 0], "seeds [0, 1, 0] repeats [0]"),
        ([0, "1"], "has non-integers ['1']"),
        ([0, 1.5], "has non-integers [1.5]"),
        ([True], "has non-integers [True]"),
        (3, "seeds must be a list of integers"),
    ],
)
def test_a_bad_seed_list_is_one_clear_error(seeds: Any, message: str) -> None:
    with pytest.raises(SpecError, match=re.escape(message)):
        parse({**SEEDED_SWEEP, "seeds": seeds})


def test_seeds_and_a_fixed_seed_param_of_a_seeded_method_conflict() -> None:
    with pytest.raises(SpecError, match="wanda sets its seed param and the sweep gives seeds"):
        parse({**SEEDED_SWEEP, "seeds": [0, 1], "params": {"wanda": {"seed": 4}}})
    # without seeds, a fixed seed param is an ordinary param
    assert dict(parse({**SEEDED_SWEEP, "params": {"wanda": {"seed": 4}}}).cells[2].params)["seed"] == 4


def test_seeds_without_seeded_of_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="needs seeded_of"):
        parse_sweep_spec({**SEEDED_SWEEP, "seeds": [0]}, levels_of=levels_of)
