"""`kick plugins` and `kick list`: what is installed, and each component's parameters."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.console import Console

from kick.errors import SpecError
from kick.plugins import PluginSet


def _plugins(ctx: typer.Context) -> PluginSet:
    """The plugin set `make_app` was built with (every command reads it from the context)."""
    plugins: PluginSet = ctx.obj
    return plugins


def cmd_plugins(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List plugins, what each registers, and plugins that failed to load."""
    ps = _plugins(ctx)
    data = {
        "plugins": [
            {
                "name": p.name,
                "distribution": p.distribution,
                "version": p.version,
                "provides": p.provides,
                "commands": p.commands,
            }
            for p in ps.plugins
        ],
        "components": [
            {
                "kind": e.kind,
                "name": e.name,
                "plugin": e.plugin,
                "description": e.description,
                "levels": list(e.levels),
                "seeded": e.seeded,
            }
            for e in ps.registry
        ],
        "failures": [
            {
                "name": f.name,
                "distribution": f.distribution,
                "version": f.version,
                "stage": f.stage,
                "error": f.error,
            }
            for f in ps.failures
        ],
    }
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2) + "\n")
        return
    from kick.console import plugins_table

    Console().print(plugins_table(ps))


def cmd_list(
    ctx: typer.Context,
    what: Annotated[str, typer.Argument(help="methods, tasks, judges or models.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Each registered component with its parameters: name, type, default, description."""
    from kick.listing import KINDS, components
    from kick.params import suggest

    if what not in KINDS:
        raise SpecError(f"kick list: unknown {what!r}{suggest(what, KINDS)}; choose from {', '.join(KINDS)}")
    items = components(_plugins(ctx), what)
    if as_json:
        from kick.types import to_jsonable

        sys.stdout.write(json.dumps(to_jsonable(items), indent=2, default=str) + "\n")
        return
    from kick.console import listing_tables

    for table in listing_tables(items, what):
        Console().print(table)
