"""pluggy hook specifications: how a plugin tells kick what it provides.

A plugin is a module (or object) named in the `kick.plugins` entry-point group that implements
any of these hooks with `@kick.hookimpl`. Each `register_*` hook receives a `register` callback:
`register(name, factory, description="...")`, where `factory(**params)` builds the component.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("kick")
hookimpl = pluggy.HookimplMarker("kick")


@hookspec
def register_models(register: Any) -> None:
    """Register model loaders: `factory(spec: ModelSpec) -> CompressibleModel`.

    Example::

        @hookimpl
        def register_models(register):
            register("my-model", load_my_model, description="My 1B model from a local folder")
    """


@hookspec
def register_compressors(register: Any) -> None:
    """Register compressors: `factory(**params) -> Compressor`.

    Example::

        @hookimpl
        def register_compressors(register):
            register("random", RandomPruner.from_params, description="random unstructured pruning")
    """


@hookspec
def register_tasks(register: Any) -> None:
    """Register tasks: `factory(**params) -> Task`.

    Example::

        @hookimpl
        def register_tasks(register):
            register("my-qa", MyQATask.from_params, description="my QA set, exact match")
    """


@hookspec
def register_judges(register: Any) -> None:
    """Register judges: `factory(**params) -> Judge`.

    Example::

        @hookimpl
        def register_judges(register):
            register("keyword", KeywordJudge.from_params, description="scores by keyword overlap")
    """


@hookspec
def register_commands(app: Any) -> None:
    """Add commands to the `kick` CLI; `app` is a `typer.Typer`.

    Example::

        @hookimpl
        def register_commands(app):
            data = typer.Typer(help="Build datasets")
            app.add_typer(data, name="data")
    """
