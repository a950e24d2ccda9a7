"""The worked third-party plugin in examples/kick-plugin-example, installed as its own package."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest
from support.tiny import save_tiny_llama
from typer.testing import CliRunner

import kick.plugins
from kick.cli import make_app

INSTALLED = importlib.util.find_spec("kick_random_prune") is not None
pytestmark = pytest.mark.skipif(
    not INSTALLED and not os.environ.get("CI"),
    reason="pip install -e examples/kick-plugin-example (CI installs it)",
)


def test_example_plugin_is_discovered_with_its_distribution_and_version() -> None:
    res = CliRunner().invoke(make_app(), ["plugins", "--json"], catch_exceptions=False)
    data = json.loads(res.output)
    (entry,) = [p for p in data["plugins"] if p["name"] == "random-prune"]
    assert entry["distribution"] == "kick-plugin-example"
    assert entry["version"] == "0.1.0"
    assert entry["provides"] == {"compressor": ["random"]}


@pytest.mark.torch
def test_example_compressor_runs_through_kick_run_like_a_builtin(tmp_path: Path, monkeypatch) -> None:
    model = save_tiny_llama(str(tmp_path / "tiny"))
    out = tmp_path / "run"
    res = CliRunner().invoke(
        make_app(kick.plugins.load_plugins()),
        [
            "run",
            model,
            "--method",
            "random",
            "--param",
            "sparsity=0.3",
            "--task",
            "factoid-qa",
            "--limit",
            "4",
            "--out",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    comp = summary["compression"]
    assert comp["method"] == "random"
    assert comp["sparsity"] == pytest.approx(0.3, abs=1e-3)
    assert summary["provenance"]["plugins"]["random-prune"] == {
        "distribution": "kick-plugin-example",
        "version": "0.1.0",
    }
    assert summary["tasks"]["factoid-qa"]["metrics"]["compressed"]["n"] == 4
