"""`kick list methods|tasks|judges`: each registered component with its parameters (name, type,
default, description), read from the config dataclass that validates them.

A factory validates its user parameters with `build_config(Config, params, owner=...)`; the
listing calls the factory with no parameters while recording the class it hands to
`build_config` (and stops there), so what is listed is exactly what is checked, with no second
list to keep in step. A parameter's description is the field's `metadata["help"]` or the comment
after it in the class source; the component's is its registered description."""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kick.plugins import PluginSet
from kick.registry import Entry

KINDS = {"methods": "compressor", "tasks": "task", "judges": "judge", "models": "model"}


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    description: str


@dataclass(frozen=True)
class Listed:
    kind: str
    name: str
    plugin: str
    description: str
    levels: tuple[str, ...]
    params: tuple[Param, ...] | None  # None: the factory does not validate through build_config


class _Recorded(Exception):
    def __init__(self, cls: type) -> None:
        self.cls = cls


def config_class(factory: Any) -> type | None:
    """The config dataclass `factory` validates its parameters with (see the module docstring)."""
    glob = getattr(factory, "__globals__", None)
    if not isinstance(glob, dict) or "build_config" not in glob:
        return None
    original = glob["build_config"]

    def record(cls: type, params: Any, *, owner: str) -> Any:
        raise _Recorded(cls)

    glob["build_config"] = record
    try:
        factory()
    except _Recorded as r:
        return r.cls
    except Exception:  # noqa: BLE001 - a factory that fails before validating lists no parameters
        return None
    finally:
        glob["build_config"] = original
    return None


def _type_name(tp: Any) -> str:
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "").replace("NoneType", "None")


def _comments(cls: type) -> dict[str, str]:
    try:
        src = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return {m[1]: m[2].strip() for m in re.finditer(r"^\s+(\w+)\s*:[^#\n]*#\s*(.*)$", src, re.M)}


def params_of(cls: type) -> tuple[Param, ...]:
    hints = typing.get_type_hints(cls)
    notes = _comments(cls)
    out = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if not f.init:
            continue
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = "(required)"
        desc = str(f.metadata.get("help", "")) or notes.get(f.name, "")
        out.append(Param(f.name, _type_name(hints.get(f.name, f.type)), default, desc))
    return tuple(out)


def listed(entry: Entry) -> Listed:
    cls = config_class(entry.resolve()) if entry.kind != "model" else None
    params = params_of(cls) if cls is not None and dataclasses.is_dataclass(cls) else None
    return Listed(entry.kind, entry.name, entry.plugin, entry.description, entry.levels, params)


def components(ps: PluginSet, what: str) -> list[Listed]:
    """Every registered component of `what` (methods, tasks, judges, models)."""
    kind = KINDS[what]
    entries: Iterable[Entry] = (e for e in ps.registry if e.kind == kind)
    return [listed(e) for e in sorted(entries, key=lambda e: e.name)]
