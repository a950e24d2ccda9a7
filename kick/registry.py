"""A typed registry of components, with provenance and helpful errors.

A factory is registered as a callable or, lazily, as a `"module:attr"` string that is imported
only when the component is first created (so listing plugins imports no heavy module).
`create` checks that what a factory built satisfies its kind's Protocol and names the plugin
when it does not.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kick.errors import DuplicateComponentError, PluginLoadError, UnknownComponentError
from kick.params import suggest

KINDS = ("model", "compressor", "task", "judge")
LEVEL_PARAMS = ("sparsity", "pattern", "bits")
"""What a compressor may sweep over: it declares these at registration (`levels=`)."""
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_TARGET = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


@dataclass(frozen=True)
class Entry:
    kind: str
    name: str
    factory: Callable[..., Any] | str
    description: str
    plugin: str
    distribution: str | None
    version: str | None
    levels: tuple[str, ...] = ()
    """For a compressor: the level parameters a sweep varies (sparsity, pattern, bits)."""
    seeded: bool = False
    """For a compressor: it draws a calibration sample with its `seed` parameter, so a sweep with
    `seeds` runs it once per seed."""

    @property
    def owner(self) -> str:
        dist = (
            f"{self.distribution} {self.version}" if self.distribution and self.version else self.distribution
        )
        return f"plugin {self.plugin!r} ({dist or 'unknown distribution'})"

    def resolve(self) -> Callable[..., Any]:
        """The factory itself, importing a `"module:attr"` target on first use."""
        if not isinstance(self.factory, str):
            return self.factory
        module, _, attr = self.factory.partition(":")
        try:
            obj: Any = importlib.import_module(module)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as e:
            raise PluginLoadError(
                f"{self.kind} {self.name!r} of {self.owner}: cannot import its factory "
                f"{self.factory!r}: {type(e).__name__}: {e}"
            ) from None
        if not callable(obj):
            raise PluginLoadError(
                f"{self.kind} {self.name!r} of {self.owner}: {self.factory!r} is not callable"
            )
        return obj  # type: ignore[no-any-return]


def _protocols() -> dict[str, type]:
    from kick.interfaces import CompressibleModel, Compressor, Judge, Task

    return {"model": CompressibleModel, "compressor": Compressor, "task": Task, "judge": Judge}


def missing_members(obj: Any, protocol: type) -> list[str]:
    """Required members of `protocol` that `obj` lacks (optional ones are not required)."""
    from kick.interfaces import required_members

    return [m for m in required_members(protocol) if not hasattr(obj, m)]


class Registry:
    """Components by kind and name. Registering a name twice names both owners. A component
    refused for its name (another plugin's holds it) is kept aside and can be chosen explicitly
    as `plugin:name` (the plugin's entry-point name); so can any other: `prune:magnitude`."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        self._refused: dict[str, dict[tuple[str, str], Entry]] = {k: {} for k in KINDS}

    def refuse(self, entry: Entry) -> None:
        """Keep a component whose name was taken: reachable only as `plugin:name`."""
        self._refused[entry.kind][(entry.plugin, entry.name)] = entry

    def add(self, entry: Entry) -> None:
        if entry.kind not in self._entries:
            raise ValueError(f"unknown component kind {entry.kind!r}")
        if not isinstance(entry.name, str) or not _NAME.match(entry.name):
            raise ValueError(
                f"invalid {entry.kind} name {entry.name!r}: use lower-case letters, digits, '.', '_', '-'"
            )
        if isinstance(entry.factory, str):
            if not _TARGET.match(entry.factory):
                raise TypeError(
                    f"{entry.kind} {entry.name!r}: factory {entry.factory!r} is not 'module:attr'"
                )
        elif not callable(entry.factory):
            raise TypeError(f"{entry.kind} {entry.name!r}: factory {entry.factory!r} is not callable")
        bad = [lv for lv in entry.levels if lv not in LEVEL_PARAMS]
        if bad or (entry.levels and entry.kind != "compressor"):
            raise ValueError(
                f"{entry.kind} {entry.name!r}: levels {list(entry.levels)!r}: only a compressor declares "
                f"levels, among {', '.join(LEVEL_PARAMS)}"
            )
        if not isinstance(entry.seeded, bool) or (entry.seeded and entry.kind != "compressor"):
            raise ValueError(
                f"{entry.kind} {entry.name!r}: seeded={entry.seeded!r}: only a compressor is seeded "
                "(True or False: it draws a calibration sample with its `seed` parameter)"
            )
        existing = self._entries[entry.kind].get(entry.name)
        if existing is not None:
            raise DuplicateComponentError(
                f"{entry.kind} {entry.name!r} is registered twice: by {existing.owner} and by {entry.owner}"
            )
        self._entries[entry.kind][entry.name] = entry

    def get(self, kind: str, name: str) -> Entry:
        entries = self._entries[kind]
        if ":" in name:
            return self._qualified(kind, name)
        if name not in entries:
            avail = ", ".join(sorted(entries)) or "none"
            raise UnknownComponentError(
                f"unknown {kind} {name!r}{suggest(name, entries)}; available: {avail}"
            )
        return entries[name]

    def _qualified(self, kind: str, qualified: str) -> Entry:
        plugin, _, name = qualified.partition(":")
        found = self._refused[kind].get((plugin, name))
        entry = self._entries[kind].get(name)
        if found is None and entry is not None and entry.plugin == plugin:
            found = entry
        if found is None:
            offers = sorted(
                f"{e.plugin}:{e.name}"
                for e in [*self._entries[kind].values(), *self._refused[kind].values()]
                if e.name == name or e.plugin == plugin
            )
            raise UnknownComponentError(
                f"unknown {kind} {qualified!r}: no plugin {plugin!r} registers a {kind} {name!r}"
                f"{suggest(qualified, offers)}; available: {', '.join(offers) or 'none'}"
            )
        return found

    def has(self, kind: str, name: str) -> bool:
        if ":" in name:
            try:
                self._qualified(kind, name)
            except UnknownComponentError:
                return False
            return True
        return name in self._entries[kind]

    def names(self, kind: str) -> list[str]:
        return sorted(self._entries[kind])

    def __iter__(self) -> Iterator[Entry]:
        for kind in KINDS:
            yield from self._entries[kind].values()

    def refused(self) -> list[Entry]:
        """The components kept aside because their name was taken (see `refuse`)."""
        return [e for kind in KINDS for e in self._refused[kind].values()]

    def create(self, kind: str, name: str, **params: Any) -> Any:
        """Build a component; what the factory returns must satisfy the kind's Protocol."""
        entry = self.get(kind, name)
        obj = entry.resolve()(**params)
        missing = missing_members(obj, _protocols()[kind])
        if missing:
            raise PluginLoadError(
                f"{kind} {name!r} of {entry.owner}: its factory returned {type(obj).__name__}, which lacks "
                f"{', '.join(missing)} (see kick.interfaces)"
            )
        return obj
