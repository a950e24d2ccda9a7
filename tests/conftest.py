from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

import fakeplug  # noqa: E402

from kick.plugins import PluginSet, load_plugins  # noqa: E402


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
