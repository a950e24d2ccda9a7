"""How the `kick` command line fails: one line on stderr, never a traceback. A KickError exits 2
(bad input), a PluginError 1 (a plugin's code raised), Ctrl-C 130; a usage error (an unknown
option, a value of the wrong type) is one line too."""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from kick.errors import KickError, PluginError

err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


INTERRUPTED = {
    "cmd_judge": "judgements received so far are kept, replies are cached: rerun the same kick judge to go on",
    "cmd_compress": "nothing was saved: rerun kick compress",
    "cmd_report": "the previous report is kept: rerun kick report",
}
"""What Ctrl-C leaves and how to go on, for commands that do not take --resume."""


def guarded(fn: F) -> F:
    """Turn a KickError into one red line on stderr and exit code 2; never a traceback."""
    hint = INTERRUPTED.get(fn.__name__, "records written so far are kept; rerun with --resume")

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KickError as e:
            err_console.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
            raise typer.Exit(1 if isinstance(e, PluginError) else 2) from None
        except KeyboardInterrupt:
            err_console.print(f"[yellow]interrupted: {hint}[/]", highlight=False)
            raise typer.Exit(130) from None
        except OSError as e:  # disk full, read-only, permission: one line, what is written is kept
            err_console.print(
                f"[bold red]error:[/] {escape(os_error(e, hint))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def os_error(e: OSError, hint: str) -> str:
    """An OSError from writing or reading a file, as one line; for a full disk, how to go on."""
    where = f" {e.filename}" if e.filename else ""
    what = e.strerror or str(e)
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"disk full while writing{where}: {what}. Free some space, then: {hint}"
    return f"cannot access{where}: {what}"


def run_app(app: typer.Typer) -> None:
    """Run the `kick` app: a usage error (bad option, missing argument) is one line and exit 2
    too, where click would print the usage and a boxed message."""
    try:  # typer >= 0.24 vendors click; its exception classes are importable only from there
        from typer._click import exceptions as cx
    except ImportError:  # pragma: no cover - an older typer on top of click
        from click import exceptions as cx  # type: ignore[no-redef]

    try:
        code = app(standalone_mode=False, prog_name="kick")
    except cx.NoArgsIsHelpError as e:
        e.show()
        raise SystemExit(e.exit_code) from None
    except cx.ClickException as e:
        ctx = getattr(e, "ctx", None)
        where = f" (see {ctx.command_path} --help)" if ctx is not None else ""
        err_console.print(f"[bold red]error:[/] {e.format_message()}{where}", highlight=False, soft_wrap=True)
        raise SystemExit(e.exit_code) from None
    except cx.Abort:
        err_console.print("[yellow]aborted[/]")
        raise SystemExit(1) from None
    if code == 130:  # Ctrl-C: every record is fsynced and every lock released by now; the
        # interpreter's final garbage collection (seconds with torch loaded) is not waited for
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(130)
    raise SystemExit(code if isinstance(code, int) else 0)


def report_clipped(summary: Mapping[str, Any]) -> None:
    """A warning for prompts longer than the model's context (their middle, the content, was cut)."""
    for key, c in (summary.get("prompts_clipped") or {}).items():
        err_console.print(
            f"[yellow]warning:[/] {key}: {c['prompts']} prompt(s) longer than the model's context lost "
            f"{c['tokens']} token(s) from their middle (the instruction and the question are kept)",
            highlight=False,
            soft_wrap=True,
        )


def report_judging(summary: Mapping[str, Any], console: Console) -> None:
    """What judging did, on the console: items sent, ok, failed, cached, and the requests made;
    why nothing was judged when nothing was. Every judgement failing is an error (exit 1): the
    judged metrics are missing, though the records keep each failure for a rerun."""
    counts = summary.get("judging")
    if not counts:
        return
    usage = (summary.get("judge") or {}).get("usage") or {}
    sent = usage.get("sent", usage.get("requests", 0))
    console.print(
        f"judged: {counts['asked']} item(s) sent to the judge, {counts['ok']} ok, {counts['failed']} failed, "
        f"{counts['already_judged']} already judged; requests: {sent} sent, {usage.get('requests', 0)} answered, "
        f"{usage.get('cached', 0)} from cache; tokens: {usage.get('prompt_tokens', 0)} prompt, "
        f"{usage.get('completion_tokens', 0)} completion",
        highlight=False,
        soft_wrap=True,
    )
    if counts.get("nothing_to_judge"):
        err_console.print(
            f"[yellow]nothing to judge:[/] {counts['nothing_to_judge']}", highlight=False, soft_wrap=True
        )
    elif counts["failed"] and not counts["ok"]:
        err_console.print(
            f"[bold red]error:[/] every judgement failed ({counts['failed']} of {counts['asked']}); the errors are "
            "in records.jsonl (extra.judge_error); fix the judge and rerun kick judge",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(1)
    elif counts["failed"]:
        err_console.print(
            f"[yellow]warning:[/] {counts['failed']} of {counts['asked']} judgements failed (see extra.judge_error "
            "in records.jsonl); kick judge retries them",
            highlight=False,
            soft_wrap=True,
        )
