from __future__ import annotations

import textwrap
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from fakes import plugin as fake_plugin

from kick.errors import PluginLoadError, UnknownComponentError
from kick.hookspecs import hookimpl
from kick.plugins import load_plugins


def make_distribution(root: Path, dist: str, version: str, eps: dict[str, str], modules: dict[str, str]) -> None:
    """Write an installed-looking distribution (dist-info + modules) under `root`."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{k} = {v}" for k, v in eps.items())
    (info / "entry_points.txt").write_text(f"[kick.plugins]\n{lines}\n")
    for name, code in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(code))


GOOD = """
from kick.hookspecs import hookimpl

class T:
    name = "third-task"

@hookimpl
def register_tasks(register):
    register("third-task", lambda **p: T(), description="a third-party task")
"""


@pytest.fixture()
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    make_distribution(tmp_path, "kick-good", "1.2.3", {"good": "good_plugin"}, {"good_plugin": GOOD})
    make_distribution(
        tmp_path,
        "kick-broken",
        "0.0.1",
        {"broken": "broken_plugin", "hookfail": "hookfail_plugin", "badobj": "badobj_plugin"},
        {
            "broken_plugin": "import not_a_module_anywhere\n",
            "hookfail_plugin": """
                from kick.hookspecs import hookimpl
                @hookimpl
                def register_compressors(register):
                    raise RuntimeError("boom in hook")
            """,
            "badobj_plugin": """
                from kick.hookspecs import hookimpl
                @hookimpl
                def register_judges(register):
                    register("bad-judge", 42)
            """,
        },
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def _eps():
    return entry_points(group="kick.plugins")


def test_builtin_plugins_are_discovered_through_entry_points() -> None:
    ps = load_plugins()
    by_name = {p.name: p for p in ps.plugins}
    assert by_name["models"].distribution == "kick"
    assert set(by_name["models"].provides["model"]) >= {"hf", "smollm2-135m"}
    assert ps.registry.get("model", "hf").plugin == "models"


def test_broken_plugins_are_reported_and_others_still_load(third_party: Path) -> None:
    ps = load_plugins(eps=_eps())
    failures = {f.name: f for f in ps.failures}
    assert set(failures) == {"broken", "hookfail", "badobj"}
    assert failures["broken"].distribution == "kick-broken" and failures["broken"].version == "0.0.1"
    assert "ModuleNotFoundError" in failures["broken"].error and failures["broken"].stage == "loading"
    assert "boom in hook" in failures["hookfail"].error and failures["hookfail"].stage == "registering compressors"
    assert "not callable" in failures["badobj"].error
    assert "kick-broken 0.0.1" in failures["broken"].message()
    good = next(p for p in ps.plugins if p.name == "good")
    assert (good.distribution, good.version, good.provides) == ("kick-good", "1.2.3", {"task": ["third-task"]})
    assert ps.registry.get("task", "third-task").distribution == "kick-good"
    assert ps.registry.has("model", "hf")  # built-ins unaffected


def test_strict_mode_reraises_the_first_failure(third_party: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KICK_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="kick-broken 0.0.1"):
        load_plugins(eps=_eps())


def test_disabled_plugins_are_skipped(third_party: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KICK_DISABLE_PLUGINS", "broken, hookfail,badobj,good")
    ps = load_plugins(eps=_eps())
    assert ps.failures == []
    assert not ps.registry.has("task", "third-task")


class Dup:
    @staticmethod
    @hookimpl
    def register_tasks(register):
        register("fake-qa", lambda **p: None)


def test_a_name_registered_twice_names_both_plugins() -> None:
    ps = load_plugins(extra=[("fake", fake_plugin), ("dup", Dup)], eps=[])
    (failure,) = ps.failures
    assert failure.name == "dup"
    assert "'fake-qa' is registered twice" in failure.error
    assert "'fake'" in failure.error and "'dup'" in failure.error
    assert ps.registry.get("task", "fake-qa").plugin == "fake"


def test_unknown_name_suggests_the_closest_and_lists_the_rest() -> None:
    ps = load_plugins(extra=[("fake", fake_plugin)], eps=[])
    with pytest.raises(UnknownComponentError) as e:
        ps.registry.get("compressor", "fake-prun")
    assert "did you mean 'fake-prune'" in str(e.value)
    assert "available: fake-prune" in str(e.value)
    with pytest.raises(UnknownComponentError, match="available: fake-chat, fake-qa"):
        ps.registry.get("task", "zzz")


def test_invalid_component_names_are_rejected() -> None:
    class Bad:
        @staticmethod
        @hookimpl
        def register_tasks(register):
            register("Has Spaces", lambda **p: None)

    ps = load_plugins(extra=[("bad", Bad)], eps=[])
    assert "invalid task name" in ps.failures[0].error
