"""Parameters: parsed once at the edge (`key=value` strings, TOML tables) into frozen configs.

`build_config(Config, params, owner=...)` is the one place where user parameters meet a
component's typed, frozen config dataclass: unknown keys get "did you mean", values are
coerced to the field's type, and `Config.__post_init__` validates ranges.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from kick.errors import SpecError
from kick.types import Scalar

T = TypeVar("T")


def parse_value(text: str) -> Scalar:
    """'3' -> 3, '0.5' -> 0.5, 'true' -> True, anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for conv in (int, float):
        try:
            return conv(text)  # type: ignore[no-any-return]
        except ValueError:
            pass
    return text


def parse_assignments(
    items: Iterable[str],
    *,
    what: str = "--param",
    value: Callable[[str], Any] = parse_value,
    example: str = "",
) -> dict[str, Any]:
    """Parse repeated `key=value` options into a dict, each value through `value`; a malformed
    item is a SpecError (`example` is shown in it, e.g. "attn_implementation=eager")."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError(f"{what} {item!r}: expected key=value" + (f" (e.g. {example})" if example else ""))
        out[key] = value(raw)
    return out


def parse_task_assignments(items: Iterable[str]) -> dict[str, dict[str, Scalar]]:
    """Parse repeated `TASK.key=value` options into {task: {key: value}}."""
    out: dict[str, dict[str, Scalar]] = {}
    for item in items:
        lhs, sep, value = item.partition("=")
        task, dot, key = lhs.partition(".")
        if not sep or not dot or not task or not key:
            raise SpecError(f"--task-param {item!r}: expected TASK.key=value")
        out.setdefault(task.strip(), {})[key.strip()] = parse_value(value)
    return out


def suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(options), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _coerce(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except SpecError as e:
                errors.append(str(e))
        raise SpecError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise SpecError(f"{where}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin is tuple:
        if isinstance(value, str):
            value = [v for v in value.replace("+", ",").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            value = [value]
        (inner, *_rest) = typing.get_args(tp) or (Any,)
        return tuple(_coerce(v.strip() if isinstance(v, str) else v, inner, where) for v in value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise SpecError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise SpecError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise SpecError(f"{where}: expected an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise SpecError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise SpecError(f"{where}: expected a number, got {value!r}") from None
    if tp is str:
        return str(value)
    return value


def build_config(cls: type[T], params: Mapping[str, Any], *, owner: str) -> T:
    """Build the frozen dataclass `cls` from user `params`, with clear errors naming `owner`."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    kwargs: dict[str, Any] = {}
    for key, value in params.items():
        if key not in fields:
            raise SpecError(
                f"{owner}: unknown parameter {key!r}{suggest(key, fields)}; "
                f"known: {', '.join(sorted(fields)) or 'none'}"
            )
        kwargs[key] = _coerce(value, hints[key], f"{owner}: {key}")
    try:
        return cls(**kwargs)
    except SpecError:
        raise
    except (TypeError, ValueError) as e:
        raise SpecError(f"{owner}: {e}") from None


def config_fields(cls: type) -> dict[str, Any]:
    """Parameter names and defaults of a config dataclass (for `kick plugins` and docs)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
        else:
            out[f.name] = None
    return out
