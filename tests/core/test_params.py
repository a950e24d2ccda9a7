from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from kick.errors import SpecError
from kick.params import build_config, parse_assignments, parse_task_assignments, parse_value


def test_values_are_parsed_to_the_narrowest_type() -> None:
    assert parse_value("3") == 3 and isinstance(parse_value("3"), int)
    assert parse_value("0.5") == 0.5
    assert parse_value("true") is True and parse_value("Off") is False
    assert parse_value("2:4") == "2:4"


def test_assignments_need_key_equals_value() -> None:
    assert parse_assignments(["sparsity=0.5", "pattern=2:4"]) == {"sparsity": 0.5, "pattern": "2:4"}
    with pytest.raises(SpecError, match="expected key=value"):
        parse_assignments(["sparsity"])
    assert parse_task_assignments(["mmlu.shots=5", "mmlu.subjects=a+b"]) == {"mmlu": {"shots": 5, "subjects": "a+b"}}
    with pytest.raises(SpecError, match="TASK.key=value"):
        parse_task_assignments(["shots=5"])


@dataclass(frozen=True)
class Cfg:
    sparsity: float = 0.5
    bits: int = 4
    sym: bool = False
    mode: Literal["a", "b"] = "a"
    subjects: tuple[str, ...] = ()
    path: str | None = None


def test_build_config_coerces_and_validates() -> None:
    cfg = build_config(Cfg, {"sparsity": 1, "bits": "8", "sym": "true", "mode": "b", "subjects": "x+y"}, owner="m")
    assert cfg == Cfg(sparsity=1.0, bits=8, sym=True, mode="b", subjects=("x", "y"))
    with pytest.raises(SpecError, match="m: bits: expected an integer, got 0.5"):
        build_config(Cfg, {"bits": 0.5}, owner="m")
    with pytest.raises(SpecError, match="'c' is not one of 'a', 'b'"):
        build_config(Cfg, {"mode": "c"}, owner="m")
    with pytest.raises(SpecError, match="unknown parameter 'bit'.*did you mean 'bits'"):
        build_config(Cfg, {"bit": 4}, owner="m")
