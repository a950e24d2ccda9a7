"""Files and folders kick writes get the user's umask, not tempfile's private 0600 / 0700."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kick.rundir import write_json_atomic


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_atomic_json_gets_the_umask_mode(tmp_path: Path, umask_022: None) -> None:
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    assert _mode(tmp_path / "a.json") == 0o644
    os.umask(0o077)
    write_json_atomic(tmp_path / "b.json", {"x": 1})
    assert _mode(tmp_path / "b.json") == 0o600


def test_a_run_directory_and_its_files_follow_the_umask(cli: Any, tmp_path: Path, umask_022: None) -> None:
    out = tmp_path / "run"
    res = cli("eval", "fake-model", "--task", "fake-qa", "--task-param", "fake-qa.size=3", "--out", out)
    assert res.exit_code == 0, res.output
    assert _mode(out) == 0o755
    assert {p.name: _mode(p) for p in out.iterdir()} == dict.fromkeys(
        ("spec.json", "summary.json", "records.jsonl"), 0o644
    )
