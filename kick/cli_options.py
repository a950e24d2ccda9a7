"""The option types the `kick` commands share (Typer `Annotated` aliases), defined once."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from kick.types import ModelSpec, RunSpec


def _default(cls: type, name: str) -> str:
    """kick's own default for an option left unset (shown by --help; one source: the spec types)."""
    return str(next(f.default for f in dataclasses.fields(cls) if f.name == name))


def split_names(items: Iterable[str] | None) -> list[str]:
    """Repeated options that may also hold comma-separated names: ['a,b', 'c'] -> ['a', 'b', 'c']."""
    return [n.strip() for item in items or () for n in item.split(",") if n.strip()]


ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Method parameter key=value (repeatable).")
]
TaskOpt = Annotated[
    list[str] | None, typer.Option("--task", "-t", help="Task name: repeatable, or comma-separated (a,b,c).")
]
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
LimitOpt = Annotated[
    str | None,
    typer.Option(
        "--limit",
        metavar="N|FRACTION",
        show_default="all",
        help="Evaluate N samples per task, or a fraction of them (0.1: 10%, rounded, at least 1): a seeded "
        "random subset drawn with --seed (the same N and seed give the same items), kept in source order.",
    ),
]
FirstOpt = Annotated[
    int | None,
    typer.Option(
        "--first", metavar="N",
        help="Evaluate the first N samples of each task in file order (what lm-evaluation-harness's --limit "
        "does); excludes --limit.",
    ),
]  # fmt: skip
BatchOpt = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        help="Batch size for generation and scoring.",
        show_default=_default(RunSpec, "batch_size"),
    ),
]
SeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed", help="Seed for sampling, subsets and calibration.", show_default=_default(RunSpec, "seed")
    ),
]
DtypeOpt = Annotated[
    str | None,
    typer.Option("--dtype", help="float32, bfloat16 or float16.", show_default=_default(ModelSpec, "dtype")),
]
DeviceOpt = Annotated[
    str | None,
    typer.Option("--device", help="cpu, cuda, cuda:1 ...", show_default=_default(ModelSpec, "device")),
]
RevisionOpt = Annotated[str | None, typer.Option("--revision", help="Hub revision (branch, tag or commit).")]
ModelArgOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model-arg", metavar="KEY=VALUE",
        help="Keyword for the model's from_pretrained, e.g. attn_implementation=eager, device_map=auto "
        "(repeatable; JSON values: true, 3, {...}). Recorded in the run; the Hub token goes in HF_TOKEN.",
    ),
]  # fmt: skip
TrustOpt = Annotated[bool, typer.Option("--trust-remote-code", help="Allow custom model code from the Hub.")]
PickleOpt = Annotated[
    bool,
    typer.Option(
        "--allow-pickle",
        help="Load a pickle checkpoint (.bin), which can run code; default: safetensors only.",
    ),
]
ResumeOpt = Annotated[bool, typer.Option("--resume", help="Continue an interrupted run in --out.")]
OverwriteOpt = Annotated[bool, typer.Option("--overwrite", help="Replace an existing run in --out.")]
RelTolOpt = Annotated[float, typer.Option("--rel-tol", help="'Matches dense' tolerance, relative.")]
VerdictOpt = Annotated[
    Literal["interval", "point"],
    typer.Option("--verdict", help="interval: matches only when the paired 95% interval is within tolerance; "
                 "point: the paper's rule, the point difference alone."),
]  # fmt: skip
ResamplesOpt = Annotated[int, typer.Option("--resamples", help="Bootstrap resamples for the intervals.")]
ReferenceOpt = Annotated[
    str | None, typer.Option("--reference", help="Dense base of an already-compressed MODEL: compare them.")
]
SaveDtypeOpt = Annotated[
    str | None, typer.Option("--save-dtype", help="Write float tensors as bf16, fp16 or fp32.")
]
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
    "judge": "judge", "judge_param": "judge_params", "limit": "limit", "first": "first", "batch_size": "batch_size",
    "seed": "seed", "dtype": "dtype", "device": "device", "revision": "revision",
    "trust_remote_code": "trust_remote_code", "allow_pickle": "allow_pickle", "model_arg": "model_args",
}  # fmt: skip


def run_options(given: Mapping[str, Any], **fixed: Any) -> dict[str, Any]:
    """A command's run options as `build_run_spec` keywords (repeatable options may be None)."""
    opts = {key: given[name] for name, key in OPTION_NAMES.items() if name in given}
    opts = {
        k: ([] if v is None and k in ("params", "tasks", "task_params", "judge_params", "model_args") else v)
        for k, v in opts.items()
    }
    if "tasks" in opts:
        opts["tasks"] = split_names(opts["tasks"])
    return {**opts, **fixed}
