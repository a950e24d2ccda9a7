"""Plugin discovery through the `kick.plugins` entry-point group, with failures isolated.

Each entry point is loaded and each of its hooks is called on its own: a plugin that fails to
import, raises in a hook, or registers a bad object is reported (name, distribution, version,
error) and every other plugin still works. `KICK_STRICT_PLUGINS=1` re-raises the first failure;
`KICK_DISABLE_PLUGINS=a,b` skips plugins by entry-point name.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pluggy

from kick import hookspecs
from kick.errors import DuplicateComponentError, ModelLoadError, PluginLoadError, SpecError, plugin_errors
from kick.params import suggest
from kick.registry import Entry, Registry
from kick.types import ModelSpec

GROUP = "kick.plugins"
BUILTIN = "kick"
"""The distribution whose plugins are built in: they load first, so their names always win."""
_HOOK_KIND = {
    "register_models": "model",
    "register_compressors": "compressor",
    "register_tasks": "task",
    "register_judges": "judge",
}


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    provides: dict[str, list[str]] = field(default_factory=dict)
    commands: bool = False


@dataclass(frozen=True)
class PluginFailure:
    name: str
    distribution: str | None
    version: str | None
    stage: str
    error: str

    def message(self) -> str:
        dist = f"{self.distribution} {self.version}" if self.distribution else "unknown distribution"
        return f"plugin {self.name!r} ({dist}) failed while {self.stage}: {self.error}"


@dataclass
class PluginSet:
    """The outcome of loading plugins: a registry, what each plugin provided, what failed."""

    registry: Registry
    plugins: list[PluginInfo]
    failures: list[PluginFailure]
    manager: pluggy.PluginManager

    def add_commands(self, app: Any) -> None:
        """Let each plugin extend the CLI; a failing plugin is recorded, the others still add."""
        for info, impl in self._impls("register_commands"):
            try:
                impl.function(app=app)
                info.commands = True
            except KeyboardInterrupt:
                raise
            except BaseException as e:  # noqa: BLE001 - isolate plugin failures, SystemExit included
                self._fail(info, "adding commands", e)

    def _impls(self, hook: str) -> Iterable[tuple[PluginInfo, Any]]:
        """Each plugin's implementation of `hook`, in plugin load order (deterministic)."""
        impls = {impl.plugin_name: impl for impl in getattr(self.manager.hook, hook).get_hookimpls()}
        for info in self.plugins:
            if info.name in impls:
                yield info, impls[info.name]

    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        failure = PluginFailure(info.name, info.distribution, info.version, stage, _describe(exc))
        if strict_mode():
            raise PluginLoadError(failure.message()) from exc
        self.failures.append(failure)


def strict_mode() -> bool:
    return os.environ.get("KICK_STRICT_PLUGINS", "").strip().lower() in ("1", "true", "yes")


def disabled_plugins() -> set[str]:
    raw = os.environ.get("KICK_DISABLE_PLUGINS", "")
    return {p.strip() for p in raw.split(",") if p.strip()}


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _dist(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def load_plugins(
    extra: Iterable[tuple[str, object]] = (),
    *,
    eps: Iterable[EntryPoint] | None = None,
) -> PluginSet:
    """Discover, load and register every plugin. `extra` adds (name, module) pairs (tests)."""
    pm = pluggy.PluginManager("kick")
    pm.add_hookspecs(hookspecs)
    registry = Registry()
    result = PluginSet(registry, [], [], pm)
    skip = disabled_plugins()
    candidates: list[tuple[PluginInfo, Callable[[], object]]] = []
    seen: set[str] = set()
    found = eps if eps is not None else entry_points(group=GROUP)
    for ep in sorted(found, key=lambda e: (_dist(e)[0] != BUILTIN, e.name)):  # built-ins first
        if ep.name in skip or ep.name in seen:
            continue
        seen.add(ep.name)
        dist, version = _dist(ep)
        candidates.append((PluginInfo(ep.name, dist, version), ep.load))
    for name, obj in extra:
        candidates.append((PluginInfo(name, None, None), lambda obj=obj: obj))  # type: ignore[misc]

    for info, load in candidates:
        try:
            obj = load()
            pm.register(obj, name=info.name)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # noqa: BLE001 - a broken plugin (even sys.exit) must not take the others down
            result._fail(info, "loading", e)
            continue
        result.plugins.append(info)
        unknown = _unknown_hooks(pm, obj)
        if unknown:
            result._fail(info, "checking its hooks", PluginLoadError(unknown))

    for hook, kind in _HOOK_KIND.items():
        for info, impl in result._impls(hook):
            pending: list[Entry] = []

            def register(
                name: str,
                factory: Callable[..., Any] | str,
                description: str = "",
                *,
                levels: Sequence[str] = (),
                seeded: bool = False,
                _info: PluginInfo = info,
                _kind: str = kind,
                _pending: list[Entry] = pending,
            ) -> None:
                _pending.append(
                    Entry(
                        _kind, name, factory, description, _info.name, _info.distribution, _info.version,
                        levels=tuple(levels), seeded=seeded,
                    )
                )  # fmt: skip

            try:
                impl.function(register=register)
                # validate everything the hook registered before adding any of it
                probe = Registry()
                for entry in pending:
                    probe.add(entry)
            except KeyboardInterrupt:
                raise
            except BaseException as e:  # noqa: BLE001 - SystemExit from a hook included
                result._fail(info, f"registering {kind}s", e)
                continue
            for entry in pending:
                try:
                    registry.add(entry)
                except DuplicateComponentError as e:
                    # the name stays with the plugin loaded first (built-ins load first): a clash
                    # never changes which code runs; this one is reachable only by its full name
                    registry.refuse(entry)
                    result._fail(info, f"registering {kind}s", DuplicateComponentError(
                        f"{e}; kept the first, use {info.name}:{entry.name} to choose this one"
                    ))  # fmt: skip
                    continue
                info.provides.setdefault(kind, []).append(entry.name)
    return result


def _unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> str | None:
    """pluggy's `check_pending`, for one plugin: its hook implementations that match no kick
    hook (a misspelt `register_compresors` would otherwise never be called)."""
    known = set(_HOOK_KIND) | {"register_commands"}
    bad = sorted(
        impl.function.__name__
        for caller in pm.get_hookcallers(plugin) or []
        if caller.name not in known and not caller.has_spec()
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
    )
    if not bad:
        return None
    return "; ".join(f"{b} is not a kick hook{suggest(b, sorted(known))}" for b in bad)


DEFAULT_MODEL = "smollm2-135m"
"""The model `kick run` and `kick sweep` use when none is given (the embedded SmolLM2)."""
FALLBACK_MODEL = "hf"
"""The loader for a name no plugin registered: a Hub id or a local folder."""


def load_model(spec: ModelSpec, plugins: PluginSet, *, offload: bool = False) -> Any:
    """Load the model `spec` names: a registered model, else a Hub id or folder (`hf`).
    `offload`: leave its decoder blocks on disk (`check_offload` says whether it can)."""
    reg = plugins.registry
    name = spec.name if reg.has("model", spec.name) else FALLBACK_MODEL
    if offload:
        check_offload(spec, plugins)
    with plugin_errors(
        f"model {name!r} of {reg.get('model', name).owner}", f"loading {spec.name}", ModelLoadError
    ):
        if offload:
            return reg.create("model", name, spec=spec, offload=True)
        return reg.create("model", name, spec=spec)


def check_offload(spec: ModelSpec, plugins: PluginSet) -> None:
    """`--offload` reads decoder blocks lazily from safetensors files: the model must be a local
    transformers folder holding them. Raises SpecError (before any work) otherwise."""
    if plugins.registry.has("model", spec.name) and spec.name != FALLBACK_MODEL:
        raise SpecError(
            f"--offload: model {spec.name!r} is loaded whole by its plugin (the embedded model is a GGUF "
            "file, which cannot be read lazily); save it as a safetensors folder and pass the folder"
        )
    if spec.args:
        raise SpecError(
            f"--offload builds the model block by block, without from_pretrained: drop --model-arg {spec.args}"
        )
    folder = Path(spec.name).expanduser()
    if not folder.is_dir():
        raise SpecError(
            f"--offload needs a local model folder with safetensors files; {spec.name!r} is not a folder "
            "(download a Hub model first, e.g. huggingface-cli download, and pass its folder)"
        )
    if not any(folder.glob("*.safetensors")):
        found = sorted({f.suffix for f in folder.iterdir() if f.suffix in (".gguf", ".bin", ".pt", ".pth")})
        raise SpecError(
            f"--offload needs safetensors weights, which can be read one block at a time; {folder} has "
            f"{', '.join(found) or 'none'} (convert it: save_pretrained(..., safe_serialization=True))"
        )
