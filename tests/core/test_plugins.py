from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest
from support.distributions import make_distribution
from support.fake_plugin import plugin as fake_plugin

from kick.errors import PluginLoadError, UnknownComponentError
from kick.hookspecs import hookimpl
from kick.plugins import load_plugins

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
    assert (
        "boom in hook" in failures["hookfail"].error
        and failures["hookfail"].stage == "registering compressors"
    )
    assert "not callable" in failures["badobj"].error
    assert "kick-broken 0.0.1" in failures["broken"].message()
    good = next(p for p in ps.plugins if p.name == "good")
    assert (good.distribution, good.version, good.provides) == (
        "kick-good",
        "1.2.3",
        {"task": ["third-task"]},
    )
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
    assert (
        "available: fake-calibrated, fake-first, fake-magnitude, fake-prune, fake-quant, torch-magnitude"
        in str(e.value)
    )
    with pytest.raises(
        UnknownComponentError,
        match="available: fake-acc, fake-chat, fake-instruct, fake-judged, fake-ppl, fake-qa, fake-summary, tiny-ppl$",
    ):
        ps.registry.get("task", "zzz")


def test_invalid_component_names_are_rejected() -> None:
    class Bad:
        @staticmethod
        @hookimpl
        def register_tasks(register):
            register("Has Spaces", lambda **p: None)

    ps = load_plugins(extra=[("bad", Bad)], eps=[])
    assert "invalid task name" in ps.failures[0].error


def test_a_misspelt_hook_is_reported_as_a_failure_and_the_plugin_s_other_hooks_still_work() -> None:
    class Typo:
        @staticmethod
        @hookimpl
        def register_compresors(register):  # type: ignore[no-untyped-def]  # sic: one 's'
            register("never", lambda **p: None)

        @staticmethod
        @hookimpl
        def register_judges(register):  # type: ignore[no-untyped-def]
            register("kept", lambda **p: fake_plugin.register_judges)

    ps = load_plugins(extra=[("typo", Typo)], eps=[])
    (failure,) = ps.failures
    assert failure.name == "typo" and failure.stage == "checking its hooks"
    assert "register_compresors is not a kick hook (did you mean 'register_compressors'?)" in failure.error
    assert ps.registry.has("judge", "kept") and not ps.registry.has("compressor", "never")


def test_a_factory_whose_object_lacks_a_protocol_member_fails_at_create_naming_the_plugin() -> None:
    class NoCompress:
        name = "half"

    class Bad:
        @staticmethod
        @hookimpl
        def register_compressors(register):  # type: ignore[no-untyped-def]
            register("half", lambda **p: NoCompress())

    ps = load_plugins(extra=[("bad", Bad)], eps=[])
    with pytest.raises(PluginLoadError, match=r"compressor 'half' of plugin 'bad' .* lacks compress"):
        ps.registry.create("compressor", "half")


def test_a_lazy_factory_string_is_imported_only_when_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    (tmp_path / "lazy_impl_mod.py").write_text(
        "class C:\n    name = 'lazy'\n    def compress(self, model):\n        return {'zeros': 0}\n"
        "def make(**p):\n    return C()\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))

    class Lazy:
        @staticmethod
        @hookimpl
        def register_compressors(register):  # type: ignore[no-untyped-def]
            register("lazy", "lazy_impl_mod:make", levels=("sparsity",))
            register("broken", "lazy_impl_mod:nothing_here")

    ps = load_plugins(extra=[("lazy", Lazy)], eps=[])
    assert "lazy_impl_mod" not in sys.modules and ps.failures == []
    assert ps.registry.get("compressor", "lazy").levels == ("sparsity",)
    assert ps.registry.create("compressor", "lazy").compress(None) == {"zeros": 0}
    with pytest.raises(PluginLoadError, match="cannot import its factory 'lazy_impl_mod:nothing_here'"):
        ps.registry.create("compressor", "broken")


def test_levels_are_declared_by_compressors_only_and_from_a_known_set() -> None:
    class Odd:
        @staticmethod
        @hookimpl
        def register_tasks(register):  # type: ignore[no-untyped-def]
            register("leveled-task", lambda **p: None, levels=("sparsity",))

        @staticmethod
        @hookimpl
        def register_compressors(register):  # type: ignore[no-untyped-def]
            register("heads", lambda **p: None, levels=("heads",))

    ps = load_plugins(extra=[("odd", Odd)], eps=[])
    assert sorted(f.stage for f in ps.failures) == ["registering compressors", "registering tasks"]
    assert not ps.registry.has("task", "leveled-task") and not ps.registry.has("compressor", "heads")


def test_seeded_is_declared_by_compressors_only_and_is_a_bool() -> None:
    class Seeds:
        @staticmethod
        @hookimpl
        def register_tasks(register):  # type: ignore[no-untyped-def]
            register("seeded-task", lambda **p: None, seeded=True)

        @staticmethod
        @hookimpl
        def register_compressors(register):  # type: ignore[no-untyped-def]
            register("calibrated", lambda **p: None, levels=("sparsity",), seeded=True)

        @staticmethod
        @hookimpl
        def register_judges(register):  # type: ignore[no-untyped-def]
            register("plain-judge", lambda **p: None)

    class NotABool:
        @staticmethod
        @hookimpl
        def register_compressors(register):  # type: ignore[no-untyped-def]
            register("maybe", lambda **p: None, seeded="yes")

    ps = load_plugins(extra=[("seeds", Seeds), ("notabool", NotABool)], eps=[])
    assert sorted((f.name, f.stage) for f in ps.failures) == [
        ("notabool", "registering compressors"),
        ("seeds", "registering tasks"),
    ]
    assert "only a compressor is seeded" in " ".join(f.error for f in ps.failures)
    assert not ps.registry.has("task", "seeded-task") and not ps.registry.has("compressor", "maybe")
    assert ps.registry.get("compressor", "calibrated").seeded is True
    assert ps.registry.get("judge", "plain-judge").seeded is False


def test_the_calibrated_builtins_are_seeded_and_the_others_not() -> None:
    reg = load_plugins().registry
    seeded = {n: reg.get("compressor", n).seeded for n in ("magnitude", "wanda", "sparsegpt", "gptq", "rtn")}
    assert seeded == {"magnitude": False, "wanda": True, "sparsegpt": True, "gptq": True, "rtn": False}
