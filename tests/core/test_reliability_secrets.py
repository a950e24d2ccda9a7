"""No secret on disk: a key planted in the environment, named by a judge's `api_key_env`, is in
no file that `kick run`, `kick sweep`, `kick judge` and `kick report` write (issue 14, item 1)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from support.openai_server import FakeOpenAIServer

from kick.plugins import PluginSet
from kick.provenance import SETTINGS, run_env, secret_env_names

SECRET = "planted-secret-9Qx-ZZ71-never-on-disk"
SECRET_ENV = "KICK_JUDGE_SECRET"  # neither KEY nor TOKEN in its name


def _files_holding(root: Path, text: str) -> list[str]:
    return sorted(
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and text.encode() in p.read_bytes()
    )


def _judge_params(server: FakeOpenAIServer) -> dict[str, Any]:
    return {"base_url": server.url, "model": "judge-model", "api_key_env": SECRET_ENV, "timeout_s": 5.0,
            "backoff_s": 0.01}  # fmt: skip


def test_run_sweep_judge_and_report_write_the_planted_secret_nowhere(
    tmp_path: Path, builtin_plugins: PluginSet, cli: Any, monkeypatch: pytest.MonkeyPatch,
    openai_server: FakeOpenAIServer,
) -> None:  # fmt: skip
    for name in [n for n in os.environ if n.startswith("KICK_")]:  # only what this test sets
        monkeypatch.delenv(name)
    monkeypatch.setenv(SECRET_ENV, SECRET)
    monkeypatch.setenv("KICK_OTHER_SETTING", SECRET)  # not one of kick's settings: never recorded
    monkeypatch.setenv("KICK_CACHE_DIR", str(tmp_path / "cache"))  # one of them: recorded
    params = _judge_params(openai_server)
    pargs = [a for k, v in params.items() for a in ("--judge-param", f"{k}={v}")]
    run_dir = tmp_path / "run"
    res = cli("run", "fake-model", "--method", "fake-prune", "--task", "fake-instruct", "--judge", "pairwise",
              *pargs, "--out", run_dir, plugins=builtin_plugins)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert openai_server.count > 0  # the key was really used
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["env"] == {"KICK_CACHE_DIR": str(tmp_path / "cache")}

    eval_dir = tmp_path / "eval"
    res = cli("eval", "fake-model", "--task", "fake-instruct", "--out", eval_dir, plugins=builtin_plugins)
    assert res.exit_code == 0, res.output
    jargs = [a for k, v in params.items() for a in ("--param", f"{k}={v}")]
    res = cli("judge", run_dir, "--judge", "pairwise", "--force", *jargs, plugins=builtin_plugins)
    assert res.exit_code == 0, res.output

    spec = tmp_path / "sweep.toml"
    spec.write_text(
        'model = "fake-model"\nmethods = ["fake-magnitude"]\nsparsity = [0.5]\ntasks = ["fake-instruct", "fake-acc"]\n'
        'judge = "pairwise"\n[judge_params]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in params.items())
    )
    sweep_dir = tmp_path / "sweep"
    res = cli("sweep", "--spec", spec, "--out", sweep_dir, plugins=builtin_plugins)
    assert res.exit_code == 0, res.output
    for d in (run_dir, sweep_dir):
        res = cli("report", d, plugins=builtin_plugins)
        assert res.exit_code == 0, res.output

    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) > 20
    assert _files_holding(tmp_path, SECRET) == []


def test_only_kicks_own_settings_are_recorded_and_never_a_named_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KICK_JUDGE_SECRET", "s3cret-value")
    monkeypatch.setenv("KICK_SHARED_DATA", "/data")
    assert run_env() == {"KICK_SHARED_DATA": "/data"}
    # a judge told to read its key from one of kick's settings: that one is not recorded either
    monkeypatch.setenv("KICK_GENERATE", "s3cret-value")
    assert run_env(["KICK_JUDGE_SECRET"]) == {"KICK_SHARED_DATA": "/data"}
    assert run_env(["KICK_SHARED_DATA"]) == {"KICK_GENERATE": "s3cret-value"}
    assert secret_env_names({"api_key_env": "X", "model": "m", "token_env": "Y", "n": 3}) == ["X", "Y"]
