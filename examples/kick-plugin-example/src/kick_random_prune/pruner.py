"""Random pruning: zero a seeded random `sparsity` fraction of each decoder Linear weight."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import torch

from kick import SpecError, build_config


@dataclass(frozen=True)
class RandomPruneConfig:
    sparsity: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.sparsity < 1.0:
            raise SpecError(f"compressor random: sparsity must be in [0, 1), got {self.sparsity}")


class RandomPruner:
    name = "random"

    def __init__(self, config: RandomPruneConfig) -> None:
        self.config = config

    def compress(self, model: Any) -> Mapping[str, Any]:
        module = model.module
        gen = torch.Generator().manual_seed(self.config.seed)
        zeros = total = 0
        with torch.no_grad():
            for name, layer in module.named_modules():
                if not isinstance(layer, torch.nn.Linear) or ".layers." not in f".{name}":
                    continue
                w = layer.weight
                k = int(round(self.config.sparsity * w.numel()))
                order = torch.randperm(w.numel(), generator=gen)[:k]
                w.view(-1)[order.to(w.device)] = 0
                zeros += int((w == 0).sum())
                total += w.numel()
        if total == 0:
            raise SpecError("compressor random: the model has no Linear layers inside '.layers.'")
        return {"config": asdict(self.config), "zeros": zeros, "weights": total, "sparsity": zeros / total}


def make_random(**params: Any) -> RandomPruner:
    """The `random` compressor: `--param key=value` pairs become a frozen, checked config."""
    return RandomPruner(build_config(RandomPruneConfig, params, owner="compressor random"))
