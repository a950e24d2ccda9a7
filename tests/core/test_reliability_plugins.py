"""Plugins cannot take over or take down kick (issue 14, items 3 and 4), with third-party
plugins installed on a child process's path: a name clash never changes which code runs
(built-ins keep their names; `plugin:name` picks the other one), `sys.exit` in a plugin is
isolated like any exception, and a compressor that raises ends its run, or its sweep cell, with
one line naming the plugin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support.distributions import make_distribution
from support.processes import kick_result, one_clear_line

from kick.errors import UnknownComponentError
from kick.plugins import load_plugins

DUP = """
from kick.hookspecs import hookimpl

class ZeroAll:
    name = "magnitude"
    def compress(self, model):
        model.weights = [0.0] * len(model.weights)
        return {"zeroed": len(model.weights), "by": "aaa-dup"}

@hookimpl
def register_compressors(register):
    register("magnitude", lambda **p: ZeroAll(), description="not the built-in one")
"""
RAISER = """
from kick.hookspecs import hookimpl

class Boom:
    name = "raiser-boom"
    def compress(self, model):
        raise RuntimeError("boom from raiser")

@hookimpl
def register_compressors(register):
    register("raiser-boom", lambda **p: Boom())
"""
HOOK_EXIT = """
import sys
from kick.hookspecs import hookimpl

@hookimpl
def register_tasks(register):
    sys.exit(4)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("site")
    make_distribution(root, "kick-aaa-dup", "0.1", {"aaa-dup": "aaa_dup"}, {"aaa_dup": DUP})
    make_distribution(root, "kick-exiter", "0.2", {"exiter": "exiter_plugin", "hookexit": "hookexit_plugin"},
                      {"exiter_plugin": "import sys\nsys.exit(3)\n", "hookexit_plugin": HOOK_EXIT})  # fmt: skip
    make_distribution(root, "kick-raiser", "0.3", {"raiser": "raiser_plugin"}, {"raiser_plugin": RAISER})
    return root


def _kick(site: Path, *args: object) -> Any:
    return kick_result(*args, builtins=True, env={"PYTHONPATH": _path(site)})


def _path(site: Path) -> str:
    from support.processes import child_env

    return child_env(path=[site])["PYTHONPATH"]


def test_sys_exit_in_a_plugin_is_isolated_and_help_still_works(site: Path) -> None:
    res = _kick(site, "--help")
    assert res.returncode == 0 and "Usage" in res.stdout, res.stderr
    res = _kick(site, "plugins", "--json")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    failures = {f["name"]: f for f in data["failures"]}
    assert "SystemExit: 3" in failures["exiter"]["error"] and failures["exiter"]["stage"] == "loading"
    assert "SystemExit: 4" in failures["hookexit"]["error"]
    assert "raiser" not in failures  # the others load


def test_a_clashing_plugin_never_replaces_a_builtin_and_can_be_chosen_explicitly(
    site: Path, tmp_path: Path
) -> None:
    data = json.loads(_kick(site, "plugins", "--json").stdout)
    owners = {(c["kind"], c["name"]): c["plugin"] for c in data["components"]}
    assert owners[("compressor", "magnitude")] == "prune"  # the built-in, though "aaa-dup" sorts first
    (dup,) = [f for f in data["failures"] if f["name"] == "aaa-dup"]
    assert "registered twice" in dup["error"] and "aaa-dup:magnitude" in dup["error"]

    # --method magnitude runs the built-in (which cannot compress the fake model: it says so)
    out = tmp_path / "builtin"
    res = _kick(site, "run", "fake-model", "--method", "magnitude", "--task", "fake-acc", "--out", out)
    assert one_clear_line(res), res.stderr
    assert "plugin 'prune'" in res.stderr and "aaa-dup" not in res.stderr
    assert not out.exists()  # refused after the model loaded, before any record: nothing left behind
    # the other one only when named
    out = tmp_path / "chosen"
    res = _kick(
        site, "run", "fake-model", "--method", "aaa-dup:magnitude", "--task", "fake-acc", "--out", out
    )
    assert res.returncode == 0, res.stderr
    compression = json.loads((out / "compression.json").read_text())
    assert compression["method"] == "aaa-dup:magnitude" and compression["by"] == "aaa-dup"


def test_a_qualified_name_reaches_the_refused_component_in_process(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(site))
    ps = load_plugins()
    reg = ps.registry
    assert reg.get("compressor", "magnitude").plugin == "prune"
    assert reg.get("compressor", "aaa-dup:magnitude").plugin == "aaa-dup"
    assert reg.get("compressor", "prune:magnitude").plugin == "prune"
    assert [e.plugin for e in reg.refused()] == ["aaa-dup"]
    with pytest.raises(UnknownComponentError, match="aaa-dup:magnitude"):
        reg.get("compressor", "aaa-dup:magnitud")


def test_a_raising_compressor_ends_the_run_with_one_line_naming_its_plugin(
    site: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    res = _kick(site, "run", "fake-model", "--method", "raiser-boom", "--task", "fake-acc", "--out", out)
    assert res.returncode == 1 and one_clear_line(res), res.stderr
    assert "plugin 'raiser' (kick-raiser 0.3)" in res.stderr and "boom from raiser" in res.stderr
    assert (out / "records.jsonl").stat().st_size > 0  # the dense records are kept for --resume


def test_a_sweep_records_the_failed_cell_goes_on_and_exits_non_zero(site: Path, tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('model = "fake-model"\nmethods = ["raiser-boom", "fake-magnitude"]\nsparsity = [0.5]\n'
                    'tasks = ["fake-acc"]\nlimit = 4\n')  # fmt: skip
    out = tmp_path / "sweep"
    res = _kick(site, "sweep", "--spec", spec, "--out", out)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "fake-model/raiser-boom: compressor 'raiser-boom' of plugin 'raiser'" in res.stderr
    assert "1 of 3 cells failed" in res.stderr
    assert (out / "fake-model" / "fake-magnitude-s0.5" / "summary.json").is_file()  # the others ran
    cells = {c["id"]: c for c in json.loads((out / "index.json").read_text())["cells"]}
    assert "boom from raiser" in cells["fake-model/raiser-boom"]["error"]
    assert "fake-model/raiser-boom: failed: " in (out / "sweep.log").read_text()
