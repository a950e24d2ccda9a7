from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))


def shared_data_dir() -> Path | None:
    """../shared/data beside the checkout (as in CI), or KICK_SHARED_DATA."""
    env = os.environ.get("KICK_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates.append(TESTS.parent.parent / "shared" / "data")
    for c in candidates:
        if c.is_dir():
            return c
    return None


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
