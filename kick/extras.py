"""Optional extras (`pip install 'kick[EXTRA]'`): a component that needs one checks for it first,
so a missing package is one line naming it and the install command (exit 2), never an
ImportError traceback half-way through a run."""

from __future__ import annotations

import importlib

from kick.errors import KickError


class MissingExtraError(KickError):
    """An optional package a component needs is not installed (exit 2, like any bad setup)."""


def require_extra(module: str, extra: str, needed_by: str, *, package: str | None = None) -> None:
    """Raise MissingExtraError unless `module` imports: "`needed_by` needs the `package` package
    (not installed): pip install 'kick[`extra`]'". `package`: its PyPI name when it differs."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(
            f"{needed_by} needs the {package or module} package (not installed): pip install 'kick[{extra}]'"
        ) from None
