"""How the `kick` command line fails: one line on stderr, never a traceback. A KickError exits 2
(bad input), a PluginError 1 (a plugin's code raised), Ctrl-C 130; a usage error (an unknown
option, a value of the wrong type) is one line too."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console

from kick.errors import KickError, PluginError

err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])


def guarded(fn: F) -> F:
    """Turn a KickError into one red line on stderr and exit code 2; never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except KickError as e:
            err_console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
            raise typer.Exit(1 if isinstance(e, PluginError) else 2) from None
        except KeyboardInterrupt:
            err_console.print("[yellow]interrupted: records written so far are kept; rerun with --resume[/]")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


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
    raise SystemExit(code if isinstance(code, int) else 0)
