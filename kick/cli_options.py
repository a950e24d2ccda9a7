"""The option types the `kick` commands share (Typer `Annotated` aliases), defined once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Method parameter key=value (repeatable).")
]
TaskOpt = Annotated[list[str] | None, typer.Option("--task", "-t", help="Task name (repeatable).")]
TaskParamOpt = Annotated[
    list[str] | None, typer.Option("--task-param", help="Task parameter TASK.key=value (repeatable).")
]
JudgeOpt = Annotated[str | None, typer.Option("--judge", help="Judge for judged tasks (e.g. pairwise).")]
JudgeParamOpt = Annotated[
    list[str] | None, typer.Option("--judge-param", help="Judge parameter key=value (repeatable).")
]
SpecOpt = Annotated[
    Path | None, typer.Option("--spec", help="TOML file with the same structure as the options.")
]
LimitOpt = Annotated[int | None, typer.Option("--limit", help="Evaluate at most N samples per task.")]
BatchOpt = Annotated[int | None, typer.Option("--batch-size", help="Batch size for generation and scoring.")]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed for sampling, subsets and calibration.")]
DtypeOpt = Annotated[str | None, typer.Option("--dtype", help="float32, bfloat16 or float16.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="cpu, cuda, cuda:1 ...")]
RevisionOpt = Annotated[str | None, typer.Option("--revision", help="Hub revision (branch, tag or commit).")]
TrustOpt = Annotated[bool, typer.Option("--trust-remote-code", help="Allow custom model code from the Hub.")]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing run in --out.")]
RelTolOpt = Annotated[float, typer.Option("--rel-tol", help="'Matches dense' tolerance, relative.")]
VerdictOpt = Annotated[
    Literal["interval", "point"],
    typer.Option("--verdict", help="interval: matches only when the paired 95% interval is within tolerance; "
                 "point: the paper's rule, the point difference alone."),
]  # fmt: skip
ResamplesOpt = Annotated[int, typer.Option("--resamples", help="Bootstrap resamples for the intervals.")]
AbsTolOpt = Annotated[float | None, typer.Option("--abs-tol", help="'Matches dense' tolerance, absolute.")]

OffloadOpt = Annotated[
    bool, typer.Option("--offload", help="Keep decoder blocks on disk; compress one block at a time.")
]
ExecutorOpt = Annotated[str, typer.Option("--executor", help="Who runs the cells: local (default) or ray.")]
AddressOpt = Annotated[
    str | None, typer.Option("--address", help="Ray cluster HOST:PORT or auto (default: a local cluster).")
]
CpusOpt = Annotated[float | None, typer.Option("--cpus-per-cell", help="CPUs each Ray cell asks for (1).")]
GpusOpt = Annotated[float | None, typer.Option("--gpus-per-cell", help="GPUs each Ray cell asks for (0).")]

# the command parameters that are run options, and their build_run_spec keywords
OPTION_NAMES = {
    "model": "model", "method": "method", "param": "params", "task": "tasks", "task_param": "task_params",
    "judge": "judge", "judge_param": "judge_params", "limit": "limit", "batch_size": "batch_size",
    "seed": "seed", "dtype": "dtype", "device": "device", "revision": "revision",
    "trust_remote_code": "trust_remote_code",
}  # fmt: skip


def run_options(given: Mapping[str, Any], **fixed: Any) -> dict[str, Any]:
    """A command's run options as `build_run_spec` keywords (repeatable options may be None)."""
    opts = {key: given[name] for name, key in OPTION_NAMES.items() if name in given}
    opts = {
        k: ([] if v is None and k in ("params", "tasks", "task_params", "judge_params") else v)
        for k, v in opts.items()
    }
    return {**opts, **fixed}
