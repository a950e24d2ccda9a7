"""kick plugin: random unstructured pruning (a baseline)."""

from __future__ import annotations

from typing import Any

from kick.hookspecs import hookimpl


def make_random(**params: Any) -> Any:
    from kick.params import build_config
    from kick_random_prune.pruner import RandomPruneConfig, RandomPruner

    return RandomPruner(build_config(RandomPruneConfig, params, owner="compressor random"))


@hookimpl
def register_compressors(register: Any) -> None:
    register("random", make_random, description="random unstructured pruning of decoder Linear layers (baseline)")
