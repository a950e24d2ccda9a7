"""Fixtures for every test folder, and the `torch` marker.

    plugins           a fresh PluginSet with the one fake plugin (support/fake_plugin.py), no entry points
    builtin_plugins   the fake plugin next to every installed plugin (real judges, the hf model loader)
    app               make_app(plugins) without plugin commands
    cli               cli("run", "fake-model", ...) -> typer Result; cli(..., plugins=ps) for another set
    tiny_llama        a fresh tiny random Llama in the hf backend (support/tiny.py); marks the test `torch`
    openai_server     a started fake OpenAI-compatible server (support/openai_server.py)
    shared_data       ../shared/data: skipped when absent, a failure in CI

`pytest -m "not torch"` runs the torch-free subset. Test modules that import torch or transformers
say so with ``pytestmark = pytest.mark.torch``; single tests with ``@pytest.mark.torch``; a test that
takes `tiny_llama` is marked by itself. Where torch cannot be imported, torch modules are not
collected and torch tests skip. KICK_TEST_NO_TORCH=1 hides torch and transformers from this process
(as if uninstalled) to check that:  KICK_TEST_NO_TORCH=1 python -m pytest -m "not torch"
`support` is importable because pyproject sets ``pythonpath = ["tests"]``.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HIDDEN = ("torch", "transformers")


class _Hiding:
    """Wraps an import finder so that HIDDEN packages look uninstalled: find_spec gives None,
    `import torch` raises ModuleNotFoundError, and nothing lands in sys.modules."""

    def __init__(self, finder: Any) -> None:
        self._finder = finder

    def find_spec(self, name: str, *args: Any, **kw: Any) -> Any:
        if name.partition(".")[0] in HIDDEN:
            return None
        find = getattr(self._finder, "find_spec", None)
        return find(name, *args, **kw) if find else None

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._finder, attr)


if os.environ.get("KICK_TEST_NO_TORCH"):
    assert not any(n in sys.modules for n in HIDDEN), "torch was imported before tests/conftest.py"
    sys.meta_path[:] = [_Hiding(f) for f in sys.meta_path]

from support import fake_plugin  # noqa: E402
from typer.testing import CliRunner, Result  # noqa: E402

from dataset_builder.rows import shared_data_dir  # noqa: E402
from kick.cli import make_app  # noqa: E402
from kick.plugins import PluginSet, load_plugins  # noqa: E402


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


HAVE_TORCH = _importable("torch") and _importable("transformers")
_TORCH_MODULE = re.compile(r"^pytestmark\s*=.*\bpytest\.mark\.torch\b", re.M)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Without torch, a module marked `torch` is not imported at all (it would fail to)."""
    if HAVE_TORCH or collection_path.suffix != ".py" or not collection_path.name.startswith("test_"):
        return None
    return True if _TORCH_MODULE.search(collection_path.read_text(encoding="utf-8")) else None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_torch = pytest.mark.skip(reason="torch is not installed")
    for item in items:
        if "tiny_llama" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.torch)
        if not HAVE_TORCH and item.get_closest_marker("torch"):
            item.add_marker(no_torch)


@pytest.fixture
def plugins() -> PluginSet:
    return load_plugins(extra=[("fake", fake_plugin.plugin)], eps=[])


@pytest.fixture
def builtin_plugins() -> PluginSet:
    return load_plugins(extra=[("fake", fake_plugin.plugin)])


@pytest.fixture
def app(plugins: PluginSet) -> Any:
    return make_app(plugins, load_plugin_commands=False)


@pytest.fixture
def cli(app: Any) -> Callable[..., Result]:
    """Invoke the CLI: exceptions other than a clean exit propagate (a traceback is a failure)."""
    runner = CliRunner()

    def invoke(*args: object, plugins: PluginSet | None = None) -> Result:
        target = app if plugins is None else make_app(plugins, load_plugin_commands=False)
        return runner.invoke(target, [str(a) for a in args], catch_exceptions=False)

    return invoke


@pytest.fixture
def tiny_llama() -> Any:
    from support.tiny import tiny_llama

    return tiny_llama()


@pytest.fixture
def openai_server() -> Iterator[Any]:
    from support.openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("../shared/data is missing in CI")
        pytest.skip("shared data not found (set KICK_SHARED_DATA)")
    return path


@pytest.fixture
def sweep_data() -> dict[str, Any]:
    """2 methods x 2 levels x 2 tasks on the fake model."""
    return {
        "model": "fake-model",
        "methods": ["fake-magnitude", "fake-first"],
        "sparsity": [0.3, 0.6],
        "tasks": ["fake-acc", "fake-ppl"],
        "limit": 8,
        "batch_size": 1,
    }
