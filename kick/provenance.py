"""What a run records about where it ran: library and plugin versions, the kick settings in the
environment, and the seeding every phase starts from."""

from __future__ import annotations

import os
import platform
import random
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import kick
from kick.plugins import PluginSet

LIBRARIES = ("torch", "transformers", "datasets", "huggingface-hub", "pluggy", "typer", "openai")


def provenance(plugins: PluginSet) -> dict[str, Any]:
    """kick, Python, platform, the libraries results depend on, and every plugin's version."""
    libs: dict[str, str | None] = {}
    for lib in LIBRARIES:
        try:
            libs[lib] = version(lib)
        except PackageNotFoundError:
            libs[lib] = None
    return {
        "kick": kick.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": libs,
        "plugins": {p.name: {"distribution": p.distribution, "version": p.version} for p in plugins.plugins},
        "plugin_failures": [f.message() for f in plugins.failures],
    }


def run_env() -> dict[str, str]:
    """The KICK_* settings in the environment (never a variable whose name says KEY or TOKEN)."""
    return {
        k: v for k, v in os.environ.items() if k.startswith("KICK_") and "KEY" not in k and "TOKEN" not in k
    }


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators (torch only when it is installed)."""
    random.seed(seed)
    try:
        import torch
    except ImportError:  # the core runs without torch (fake plugins in tests)
        return
    torch.manual_seed(seed)
