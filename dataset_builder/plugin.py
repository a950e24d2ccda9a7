"""`kick data ...`: build, inspect and publish the curated LLM-KICK datasets.

Mounted into the `kick` CLI through the `register_commands` hook (entry point
`data = "dataset_builder.plugin"`). Heavy libraries are imported inside the commands, so
`kick --help` stays fast. User errors print one `error: ...` line and exit with status 2.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kick.errors import KickError
from kick.hookspecs import hookimpl

T = TypeVar("T")


def _run(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except KickError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


def build_cmd(
    raw: Annotated[Path, typer.Option("--from", help="the raw data folder (e.g. shared/data)")],
    out: Annotated[Path, typer.Option("--out", help="output folder (must not exist or be empty)")],
    mini: Annotated[
        int | None, typer.Option(help="also write <config>_mini with at most N rows per split")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed for the mini subsample")] = 0,
    tokenizer: Annotated[
        str | None, typer.Option(help="local tokenizer folder: add token counts to the statistics")
    ] = None,
) -> None:
    """Read the raw sources, curate them and write Parquet shards plus a dataset card."""
    import time

    from dataset_builder.build import build, hf_token_counter
    from dataset_builder.stats import render_table

    def go() -> Any:
        counter = hf_token_counter(tokenizer) if tokenizer else None
        return build(raw, out, mini=mini, seed=seed, count_tokens=counter)

    start = time.perf_counter()
    result = _run(go)
    typer.echo(render_table(result.stats))
    typer.echo(f"wrote {len(result.files)} files to {result.out} in {time.perf_counter() - start:.1f} s")


def stats_cmd(folder: Annotated[Path, typer.Argument(help="a built dataset folder")]) -> None:
    """Print the statistics table of a built folder."""
    from dataset_builder.loading import configs_in, read_rows
    from dataset_builder.stats import render_table, split_stats

    def go() -> str:
        stats = [
            split_stats(config, split, read_rows(folder, config, split))
            for config, splits in configs_in(folder).items()
            for split in splits
        ]
        return render_table(stats)

    typer.echo(_run(go))


def publish_cmd(
    folder: Annotated[Path, typer.Argument(help="a built dataset folder")],
    repo_id: Annotated[str, typer.Option("--repo-id", help="dataset repo, 'owner/name'")],
    private: Annotated[bool, typer.Option(help="create the repo as private")] = False,
    tag: Annotated[str | None, typer.Option(help="tag the commit with this revision name")] = None,
    message: Annotated[str | None, typer.Option(help="commit message")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="print what would be uploaded; no network")
    ] = False,
) -> None:
    """Upload a built folder to a Hub dataset repo in one commit (token: HF_TOKEN or local login)."""
    from dataset_builder.publish import plan_upload, render_plan

    plan = _run(lambda: plan_upload(folder, repo_id, private=private, tag=tag, commit_message=message))
    typer.echo(render_plan(plan))
    if dry_run:
        typer.echo("dry run: nothing uploaded")
        return
    from dataset_builder import hub

    url = _run(lambda: hub.publish(plan))
    typer.echo(f"published: {url}")


def make_app() -> typer.Typer:
    app = typer.Typer(help="Build, inspect and publish the curated LLM-KICK datasets.", no_args_is_help=True)
    app.command("build")(build_cmd)
    app.command("stats")(stats_cmd)
    app.command("publish")(publish_cmd)
    return app


@hookimpl
def register_commands(app: typer.Typer) -> None:
    """Add `kick data build|stats|publish`."""
    app.add_typer(make_app(), name="data")
