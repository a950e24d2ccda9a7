"""What a run records about where it ran: library and plugin versions, the kick settings in the
environment, and the seeding every phase starts from."""

from __future__ import annotations

import os
import platform
import random
from collections.abc import Iterable, Mapping
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


SETTINGS = (
    "KICK_CACHE_DIR",
    "KICK_CALIBRATION",
    "KICK_DISABLE_PLUGINS",
    "KICK_GENERATE",
    "KICK_SHARED_DATA",
    "KICK_STRICT_PLUGINS",
)
"""kick's own environment settings: the only variables a run records (an allow-list: a name
such as KICK_JUDGE_SECRET says nothing about whether its value is secret)."""


def run_env(secret_names: Iterable[str] = ()) -> dict[str, str]:
    """kick's own settings (`SETTINGS`) as set in the environment. A variable named in
    `secret_names` (a judge's `api_key_env`) is never recorded, nor one holding the same value."""
    secrets = {os.environ[n] for n in secret_names if os.environ.get(n)}
    return {
        k: os.environ[k]
        for k in SETTINGS
        if k in os.environ and k not in set(secret_names) and os.environ[k] not in secrets
    }


def secret_env_names(params: Mapping[str, Any]) -> list[str]:
    """The environment variables a component's parameters name as holding a secret: the value
    of every `*_env` parameter (`api_key_env=OPENAI_API_KEY`)."""
    return [str(v) for k, v in params.items() if k.endswith("_env") and isinstance(v, str)]


def seed_everything(seed: int) -> None:
    """Seed Python's and torch's generators (torch only when it is installed)."""
    random.seed(seed)
    try:
        import torch
    except ImportError:  # the core runs without torch (fake plugins in tests)
        return
    torch.manual_seed(seed)
