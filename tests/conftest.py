from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import fakeplug  # noqa: E402
from tiny import shared_data_dir  # noqa: E402

from kick.plugins import PluginSet, load_plugins  # noqa: E402


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("../shared/data is missing in CI")
        pytest.skip("shared data not found (set KICK_SHARED_DATA)")
    return path


@pytest.fixture()
def tiny():
    from tiny import tiny_model

    return tiny_model()


@pytest.fixture
def fake_plugins() -> PluginSet:
    return load_plugins(extra=[("fake", fakeplug)], eps=[])


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
