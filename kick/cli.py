"""The `kick` command line: thin commands that parse options once, call one library function,
and render the result. Plugins add commands through the `register_commands` hook."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from kick.cli_errors import err_console, guarded, report_clipped, report_judging, run_app
from kick.cli_info import _plugins, cmd_list, cmd_plugins
from kick.cli_options import (
    AbsTolOpt,
    AddressOpt,
    BatchOpt,
    CpusOpt,
    DeviceOpt,
    DtypeOpt,
    ExecutorOpt,
    FirstOpt,
    GpusOpt,
    JudgeOpt,
    JudgeParamOpt,
    LimitOpt,
    ModelArgOpt,
    OffloadOpt,
    OverwriteOpt,
    ParamOpt,
    PickleOpt,
    ReferenceOpt,
    RelTolOpt,
    ResamplesOpt,
    ResumeOpt,
    RevisionOpt,
    SaveDtypeOpt,
    SeedOpt,
    SpecOpt,
    TaskOpt,
    TaskParamOpt,
    TrustOpt,
    VerdictOpt,
    run_options,
    split_names,
)
from kick.errors import KickError, SpecError
from kick.model_args import check_model_args, parse_model_args
from kick.params import parse_assignments
from kick.plugins import DEFAULT_MODEL, PluginSet
from kick.reference import reference_options
from kick.rundir import Mode
from kick.spec import build_run_spec, load_spec_file, mode_of
from kick.types import ComponentSpec, RunSpec

console = Console()


# ---- commands ----------------------------------------------------------------------------------
def _run_common(ctx: typer.Context, spec: RunSpec, out: Path, mode: Mode, **verdict: Any) -> None:
    """`kick run` / `kick eval`: one `run()` with a progress display, then the summary table.
    `verdict`: rel_tol, abs_tol, verdict (interval|point) and resamples, as given."""
    from kick.console import RichProgress, summary_table
    from kick.runner import run

    with RichProgress(console) as progress:
        summary = run(spec, out, mode=mode, plugins=_plugins(ctx), progress=progress, **verdict)
    console.print(summary_table(summary))
    console.print(f"run directory: [bold]{out}[/]")
    report_clipped(summary)
    report_judging(summary, console)


def cmd_eval(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Hub id, local folder, or a registered model name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")],
    task: TaskOpt = None,
    task_param: TaskParamOpt = None,
    judge: JudgeOpt = None,
    judge_param: JudgeParamOpt = None,
    spec: SpecOpt = None,
    limit: LimitOpt = None,
    first: FirstOpt = None,
    batch_size: BatchOpt = None,
    seed: SeedOpt = None,
    dtype: DtypeOpt = None,
    device: DeviceOpt = None,
    revision: RevisionOpt = None,
    trust_remote_code: TrustOpt = False,
    allow_pickle: PickleOpt = False,
    model_arg: ModelArgOpt = None,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    reference: ReferenceOpt = None,
) -> None:
    """Evaluate a model on tasks; with --reference, a compressed MODEL against its dense base."""
    opts = run_options(locals(), method=None) | (reference_options(model, reference) if reference else {})
    run_spec = build_run_spec(file=load_spec_file(spec), **opts)
    if run_spec.compression is not None and reference is None:
        raise SpecError("kick eval does not compress; use kick run --method")
    _run_common(ctx, run_spec, out, mode_of(resume, overwrite))


def cmd_run(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Run directory to write.")],
    model: Annotated[str | None, typer.Argument(help=f"Model (default {DEFAULT_MODEL}).")] = None,
    method: Annotated[str | None, typer.Option("--method", "-m", help="Compression method.")] = None,
    param: ParamOpt = None,
    task: TaskOpt = None,
    task_param: TaskParamOpt = None,
    judge: JudgeOpt = None,
    judge_param: JudgeParamOpt = None,
    spec: SpecOpt = None,
    limit: LimitOpt = None,
    first: FirstOpt = None,
    batch_size: BatchOpt = None,
    seed: SeedOpt = None,
    dtype: DtypeOpt = None,
    device: DeviceOpt = None,
    revision: RevisionOpt = None,
    trust_remote_code: TrustOpt = False,
    allow_pickle: PickleOpt = False,
    model_arg: ModelArgOpt = None,
    no_dense: Annotated[bool, typer.Option("--no-dense", help="Skip the dense baseline.")] = False,
    resume: ResumeOpt = False,
    overwrite: OverwriteOpt = False,
    rel_tol: RelTolOpt = 0.05,
    abs_tol: AbsTolOpt = None,
    verdict: VerdictOpt = "interval",
    resamples: ResamplesOpt = 2000,
    offload: OffloadOpt = False,
) -> None:
    """Compress in memory and evaluate, with the dense baseline in the same run."""
    opts = run_options(locals(), include_dense=not no_dense)
    run_spec = build_run_spec(file=load_spec_file(spec), **opts)
    if run_spec.compression is None:
        raise SpecError("kick run needs --method (use kick eval to evaluate without compression)")
    if resamples < 100:
        raise SpecError(f"--resamples must be at least 100, got {resamples}")
    _run_common(
        ctx, run_spec, out, mode_of(resume, overwrite), rel_tol=rel_tol, abs_tol=abs_tol, verdict=verdict,
        resamples=resamples, offload=offload,
    )  # fmt: skip


def cmd_compress(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Hub id, local folder, or a registered model name.")],
    method: Annotated[str, typer.Option("--method", "-m", help="Compression method.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the compressed model.")],
    param: ParamOpt = None,
    seed: SeedOpt = None,
    dtype: DtypeOpt = None,
    device: DeviceOpt = None,
    revision: RevisionOpt = None,
    trust_remote_code: TrustOpt = False,
    allow_pickle: PickleOpt = False,
    model_arg: ModelArgOpt = None,
    overwrite: OverwriteOpt = False,
    save_dtype: SaveDtypeOpt = None,
    offload: OffloadOpt = False,
) -> None:
    """Compress and save a folder AutoModelForCausalLM.from_pretrained loads (gptq/rtn: packed)."""
    from kick.compress import compress_to_folder

    run_spec = build_run_spec(file={}, **run_options(locals(), include_dense=False))
    with console.status(f"compressing {model} with {method}"):
        stats = compress_to_folder(
            run_spec, out, overwrite=overwrite, plugins=_plugins(ctx), save_dtype=save_dtype, offload=offload
        )
    from kick.console import compression_table

    console.print(compression_table(stats))
    console.print(f"saved: [bold]{out}[/]")


# ---- sweep and report (issue 7) ---------------------------------------------------------------
def cmd_sweep(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", "-o", help="Sweep directory to write.")],
    spec: SpecOpt = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Model (repeatable).")] = None,
    method: Annotated[list[str] | None, typer.Option("--method", "-m", help="Method (repeatable).")] = None,
    sparsity: Annotated[
        list[float] | None, typer.Option("--sparsity", help="Sparsity level (repeatable).")
    ] = None,
    pattern: Annotated[
        list[str] | None, typer.Option("--pattern", help="N:M pattern, e.g. 2:4 (repeatable).")
    ] = None,
    bits: Annotated[
        list[int] | None, typer.Option("--bits", help="Bit width for quantizers (repeatable).")
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="METHOD.key=value (repeatable).")
    ] = None,
    task: TaskOpt = None,
    task_param: TaskParamOpt = None,
    limit: LimitOpt = None,
    first: FirstOpt = None,
    batch_size: BatchOpt = None,
    seed: SeedOpt = None,
    calibration_seed: Annotated[
        list[int] | None, typer.Option("--calibration-seed", help="Calibration seed (repeatable).")
    ] = None,
    dtype: DtypeOpt = None,
    device: DeviceOpt = None,
    model_arg: ModelArgOpt = None,
    rel_tol: Annotated[
        float | None, typer.Option("--rel-tol", help="'Matches dense' tolerance, relative.")
    ] = None,
    abs_tol: AbsTolOpt = None,
    verdict: Annotated[str | None, typer.Option("--verdict", help="interval (default) or point.")] = None,
    resamples: Annotated[int | None, typer.Option("--resamples", help="Bootstrap resamples.")] = None,
    resume: ResumeOpt = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Redo cells whose spec changed.")] = False,
    executor: ExecutorOpt = "local",
    address: AddressOpt = None,
    cpus_per_cell: CpusOpt = None,
    gpus_per_cell: GpusOpt = None,
    offload: OffloadOpt = False,
) -> None:
    """Sweep models x methods x levels x tasks (dense once per model); resumable."""
    from kick.console import SweepRichProgress
    from kick.selection import choose
    from kick.sweep import run_sweep
    from kick.sweep_options import merge_sweep_options
    from kick.sweep_ray import make_executor
    from kick.sweep_spec import levels_from, parse_sweep_spec, seeded_from

    limit_n, first_n = choose(limit, first, {})  # "0.1" -> 0.1; both given: one line
    data = merge_sweep_options(
        load_spec_file(spec),
        models=model,
        methods=method,
        sparsity=sparsity,
        patterns=pattern,
        bits=bits,
        tasks=split_names(task) or None,
        params=param,
        task_params=task_param,
        limit=limit_n,
        first=first_n,
        batch_size=batch_size,
        seed=seed,
        seeds=calibration_seed,
        rel_tol=rel_tol,
        abs_tol=abs_tol,
        verdict=verdict,
        resamples=resamples,
    )
    data.update({k: v for k, v in (("dtype", dtype), ("device", device)) if v is not None})
    if model_arg:  # options win over the file's model_args, key by key
        data["model_args"] = {
            **dict(data.get("model_args") or {}),
            **check_model_args(parse_model_args(model_arg)),
        }
    sweep = parse_sweep_spec(data, levels_of=levels_from(_plugins(ctx)), seeded_of=seeded_from(_plugins(ctx)))
    runner = make_executor(
        executor, address=address, cpus_per_cell=cpus_per_cell, gpus_per_cell=gpus_per_cell
    )
    with SweepRichProgress(console) as progress:
        result = run_sweep(
            sweep, out, mode=mode_of(resume, overwrite), plugins=_plugins(ctx), progress=progress,
            executor=runner, offload=offload,
        )  # fmt: skip
    t = result.timings
    console.print(
        f"sweep directory: [bold]{out}[/]  ({t.total:.1f}s: load {t.load:.1f}s, compress {t.compress:.1f}s, "
        f"model calls {t.model_calls:.1f}s, sweep overhead {t.overhead:.2f}s)"
    )
    console.print(f"next: kick report {out}")
    if result.failed:
        for c in result.failed:
            err_console.print(
                f"[bold red]failed:[/] {c['id']}: {c['error']}", highlight=False, soft_wrap=True
            )
        err_console.print(
            f"[bold red]error:[/] {len(result.failed)} of {len(result.cells)} cells failed (listed above); "
            f"the others finished. Fix the cause and rerun with --resume", highlight=False, soft_wrap=True,
        )  # fmt: skip
        raise typer.Exit(1)


def cmd_report(
    ctx: typer.Context,
    run_dir: Annotated[Path, typer.Argument(help="A run or sweep directory.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Report folder (default RUN_DIR/report).")
    ] = None,
    rel_tol: Annotated[
        float | None, typer.Option("--rel-tol", help="Relative tolerance (default: the run's).")
    ] = None,
    abs_tol: AbsTolOpt = None,
    verdict: Annotated[
        str | None, typer.Option(help="'Matches dense' rule: interval or point (default: the runs').")
    ] = None,
) -> None:
    """Tables, plots, HTML/Markdown/CSV/JSON from any run or sweep directory."""
    from kick.console import report_table
    from kick.report.files import report_dir

    if verdict not in (None, "interval", "point"):
        raise typer.BadParameter(f"--verdict must be interval or point, not {verdict!r}")
    files = report_dir(run_dir, out, rel_tol=rel_tol, abs_tol=abs_tol, verdict=verdict)
    for t in files.tables:
        console.print(report_table(t))
    for note in files.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"report: [bold]{files.files[0]}[/] ({len(files.files)} files)")


def cmd_judge(
    ctx: typer.Context,
    run_dir: Annotated[
        Path, typer.Argument(help="A finished run directory (has spec.json and records.jsonl).")
    ],
    judge: Annotated[str, typer.Option("--judge", help="Judge name (e.g. pairwise, single, local-hf).")],
    param: ParamOpt = None,
    force: Annotated[
        bool, typer.Option("--force", help="Re-judge records that already have judge scores.")
    ] = False,
) -> None:
    """Judge (or re-judge) a finished run from its records, without regenerating; rewrites summary.json."""
    from kick.console import RichProgress, summary_table
    from kick.runner import rejudge

    spec = ComponentSpec(judge, parse_assignments(param or []))
    with RichProgress(console) as progress:
        summary = rejudge(run_dir, spec, force=force, plugins=_plugins(ctx), progress=progress)
    console.print(summary_table(summary))
    console.print(f"run directory: [bold]{run_dir}[/]")
    report_judging(summary, console)


def make_app(plugins: PluginSet | None = None, *, load_plugin_commands: bool = True) -> typer.Typer:
    """The `kick` app over `plugins` (default: every installed plugin, loaded now).

    Tests pass a fresh `load_plugins(extra=...)` set with their fakes; nothing is global."""
    from kick.plugins import load_plugins

    try:
        ps = plugins if plugins is not None else load_plugins()
    except KickError as e:  # strict mode
        err_console.print(f"[bold red]error:[/] {e}", highlight=False)
        raise SystemExit(2) from None
    app = typer.Typer(
        name="kick",
        help="Compress Hugging Face causal LMs and see what they lose on knowledge-intensive tasks (LLM-KICK).",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def _root(
        ctx: typer.Context,
        verbose: Annotated[
            bool,
            typer.Option("--verbose", "-v", help="Also show the libraries' own progress bars and warnings "
                         "(transformers, datasets, huggingface_hub)."),
        ] = False,
    ) -> None:  # fmt: skip
        ctx.obj = ps
        if not verbose:
            from kick.console import quiet_libraries

            quiet_libraries()

    app.command("plugins")(guarded(cmd_plugins))
    app.command("list")(guarded(cmd_list))
    app.command("eval")(guarded(cmd_eval))
    app.command("run")(guarded(cmd_run))
    app.command("compress")(guarded(cmd_compress))
    app.command("sweep")(guarded(cmd_sweep))
    app.command("report")(guarded(cmd_report))
    app.command("judge")(guarded(cmd_judge))
    if load_plugin_commands:
        try:
            ps.add_commands(app)
        except KickError as e:  # strict mode
            err_console.print(f"[bold red]error:[/] {e}", highlight=False)
            raise SystemExit(2) from None
    return app


def main(plugins: PluginSet | None = None) -> None:
    """The `kick` executable: every installed plugin, errors as one line (`kick.cli_errors`)."""
    run_app(make_app(plugins))
