"""The command line's habits of the field: --help shows defaults, `kick list` shows each
component's parameters from the config that validates them, --task takes a,b,c."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from kick.cli_options import split_names
from kick.listing import config_class, params_of


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", text))


def test_help_shows_the_defaults_kick_applies(cli: Any) -> None:
    for command in ("run", "eval", "sweep"):
        res = cli(command, "--help")
        text = _plain(res.output)
        assert res.exit_code == 0
        for option, default in (("batch-size", "8"), ("seed", "0"), ("dtype", "float32"), ("device", "cpu"),
                                ("limit", "all")):  # fmt: skip
            assert re.search(rf"--{option} \S+ [^\[]*\[default: \(?{default}\)?\]", text), (command, option)
        assert "random subset drawn with --seed" in text


def test_kick_list_shows_parameters_types_and_defaults_from_the_validating_config(cli: Any) -> None:
    res = cli("list", "methods", "--json")
    assert res.exit_code == 0, res.output
    items = {c["name"]: c for c in json.loads(res.output)}
    assert items["fake-prune"]["params"] == [
        {"name": "sparsity", "type": "float", "default": 0.5, "description": ""}
    ]
    assert items["fake-magnitude"]["levels"] == ["sparsity", "pattern"]
    res = cli("list", "tasks")
    assert res.exit_code == 0 and "fake-qa" in res.output and "size" in res.output
    bad = cli("list", "method")
    assert bad.exit_code == 2 and "did you mean 'methods'" in bad.output


def test_the_listed_config_is_the_one_the_factory_validates_with() -> None:
    from kick_prune.wanda import WandaConfig, make_wanda

    assert config_class(make_wanda) is WandaConfig
    names = [p.name for p in params_of(WandaConfig)]
    assert names[:3] == ["sparsity", "pattern", "nsamples"]
    assert next(p for p in params_of(WandaConfig) if p.name == "calibration").type == "str | None"


def test_task_takes_comma_separated_names_as_well_as_repeats(cli: Any, tmp_path: Path) -> None:
    assert split_names(["a,b", "c", " d , "]) == ["a", "b", "c", "d"]
    out = tmp_path / "run"
    res = cli("eval", "fake-model", "--task", "fake-qa,fake-acc", "--task-param", "fake-qa.size=3", "--out", out)
    assert res.exit_code == 0, res.output
    spec = json.loads((out / "spec.json").read_text())
    assert [t["name"] for t in spec["spec"]["tasks"]] == ["fake-qa", "fake-acc"]


def test_library_progress_bars_are_hidden_unless_verbose(cli: Any, monkeypatch: Any) -> None:
    from kick.console import QUIET_ENV

    for key in QUIET_ENV:
        monkeypatch.delenv(key, raising=False)
    assert cli("--verbose", "plugins").exit_code == 0
    assert not any(key in os.environ for key in QUIET_ENV)
    assert cli("plugins").exit_code == 0
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1" and os.environ["TRANSFORMERS_VERBOSITY"] == "error"


def test_compression_blocks_become_a_bar_that_finishes() -> None:
    import logging

    from rich.console import Console

    from kick.console import PROGRESS_LOG, RichProgress

    console = Console(record=True, width=100, force_terminal=False)
    with RichProgress(console) as progress:
        log = logging.getLogger(PROGRESS_LOG)
        for k in range(4):
            log.info("x", extra={"kick_progress": ("compress/wanda", "compressing (wanda), blocks", k, 3)})
        (task,) = progress._bar.tasks
        assert (task.description, task.completed, task.total, task.finished) == (
            "compressing (wanda), blocks", 3, 3, True,
        )  # fmt: skip
    assert not logging.getLogger(PROGRESS_LOG).handlers  # detached with the display


def _cell_summary(task_values: dict[str, float], verdict: str | None) -> dict[str, Any]:
    tasks = {}
    for task, v in task_values.items():
        variant = "compressed" if verdict else "dense"
        entry: dict[str, Any] = {"metrics": {variant: {"acc": v, "n": 8}}, "primary_metric": "acc"}
        if verdict:
            entry["comparison"] = {"acc": {"delta": v - 0.5, "verdict": verdict}}
        tasks[task] = entry
    return {"tasks": tasks}


def test_the_sweeps_final_table_shows_every_cell_dense_first_and_fits_80_columns() -> None:
    from rich.console import Console

    from kick.console import SweepRichProgress

    console = Console(record=True, width=80, force_terminal=False)
    tasks = ["factoid-qa", "mmlu", "icrqa-closed", "icrqa-open", "perplexity"]
    names = [f"sparsegpt-s0.{i:02d}" for i in range(34)] + ["sparsegpt-2of4", "wanda-2of4"]
    with SweepRichProgress(console, max_rows=5) as progress:
        progress.stage("starting")
        progress.cell_done("smollm2-135m/dense", _cell_summary(dict.fromkeys(tasks, 0.375), None))
        for name in names:
            progress.cell_done(f"smollm2-135m/{name}", _cell_summary(dict.fromkeys(tasks, 0.01136), "matches"))
    out = console.export_text()
    final = out[out.rindex("finished cells") :]
    lines = final.splitlines()
    assert lines[0].startswith("finished cells (37)")
    rows = [ln.split()[0] for ln in lines if ln.strip().startswith(("dense", "sparsegpt", "wanda"))]
    assert rows == ["dense", *names]  # every cell, dense first, each name whole
    assert all(len(ln) <= 80 for ln in lines)
    assert "0.0114 ✓" in final and "…" not in final
