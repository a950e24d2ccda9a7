"""pluggy hook specifications: how a plugin tells kick what it provides.

A plugin is a module (or object) named in the `kick.plugins` entry-point group that implements
any of these hooks with `@kick.hookimpl`. Each `register_*` hook receives a `register` callback
(the `Register` protocol below): `register(name, factory, description="...")`, where `factory`
is a callable or a lazy `"module:attr"` string and `factory(**params)` builds the component. A
function in a plugin whose name starts with `register_` but is not one of these hooks is
reported as a plugin failure (a misspelt hook would otherwise be silently ignored).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

import pluggy

if TYPE_CHECKING:
    import typer

hookspec = pluggy.HookspecMarker("kick")
hookimpl = pluggy.HookimplMarker("kick")


class Register(Protocol):
    """The callback every `register_*` hook receives."""

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any] | str,
        description: str = "",
        *,
        levels: Sequence[str] = (),
        seeded: bool = False,
    ) -> None:
        """Register a component. `factory` is a callable or `"package.module:function"`, imported
        when the component is first created. `levels` (compressors only) names what a sweep
        varies for it: any of "sparsity", "pattern" (N:M) and "bits". `seeded` (compressors
        only): the compressor draws a calibration sample with its `seed` parameter, so a sweep
        given `seeds = [...]` runs each of its cells once per seed."""


@hookspec
def register_models(register: Register) -> None:
    """Register model loaders: `factory(spec: ModelSpec) -> CompressibleModel`.

    Example::

        @hookimpl
        def register_models(register):
            register("my-model", "my_plugin.models:load", description="My 1B model from a local folder")
    """


@hookspec
def register_compressors(register: Register) -> None:
    """Register compressors: `factory(**params) -> Compressor`.

    Example::

        @hookimpl
        def register_compressors(register):
            register("random", "my_plugin.prune:make_random", description="random unstructured pruning",
                     levels=("sparsity",))
            register("calibrated", "my_plugin.prune:make_calibrated", description="calibrated pruning",
                     levels=("sparsity",), seeded=True)  # make_calibrated(seed=...) picks its sample
    """


@hookspec
def register_tasks(register: Register) -> None:
    """Register tasks: `factory(**params) -> Task`.

    Example::

        @hookimpl
        def register_tasks(register):
            register("my-qa", MyQATask.from_params, description="my QA set, exact match")
    """


@hookspec
def register_judges(register: Register) -> None:
    """Register judges: `factory(**params) -> Judge`.

    Example::

        @hookimpl
        def register_judges(register):
            register("keyword", KeywordJudge.from_params, description="scores by keyword overlap")
    """


@hookspec
def register_commands(app: typer.Typer) -> None:
    """Add commands to the `kick` CLI; `app` is a `typer.Typer`.

    Example::

        @hookimpl
        def register_commands(app):
            data = typer.Typer(help="Build datasets")
            app.add_typer(data, name="data")
    """
