"""A typed registry of components, with provenance and helpful errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kick.errors import DuplicateComponentError, UnknownComponentError
from kick.params import suggest

KINDS = ("model", "compressor", "task", "judge")
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    factory: Callable[..., Any]
    description: str
    plugin: str
    distribution: str | None
    version: str | None


class Registry:
    """Components by kind and name. Registering a name twice names both owners."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}

    def add(self, entry: Entry) -> None:
        if entry.kind not in self._entries:
            raise ValueError(f"unknown component kind {entry.kind!r}")
        if not isinstance(entry.name, str) or not _NAME.match(entry.name):
            raise ValueError(
                f"invalid {entry.kind} name {entry.name!r}: use lower-case letters, digits, '.', '_', '-'"
            )
        if not callable(entry.factory):
            raise TypeError(f"{entry.kind} {entry.name!r}: factory {entry.factory!r} is not callable")
        existing = self._entries[entry.kind].get(entry.name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{entry.kind} {entry.name!r} is registered twice: by plugin {existing.plugin!r} "
                f"({existing.distribution or 'unknown distribution'}) and by plugin {entry.plugin!r} "
                f"({entry.distribution or 'unknown distribution'})"
            )
        self._entries[entry.kind][entry.name] = entry

    def get(self, kind: str, name: str) -> Entry:
        entries = self._entries[kind]
        if name not in entries:
            avail = ", ".join(sorted(entries)) or "none"
            raise UnknownComponentError(
                f"unknown {kind} {name!r}{suggest(name, entries)}; available: {avail}"
            )
        return entries[name]

    def has(self, kind: str, name: str) -> bool:
        return name in self._entries[kind]

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def __iter__(self) -> Iterator[Entry]:
        for kind in KINDS:
            yield from self._entries[kind].values()

    def create(self, kind: str, name: str, **params: Any) -> Any:
        return self.get(kind, name).factory(**params)
