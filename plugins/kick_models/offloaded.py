"""The `hf` backend with its decoder blocks left on disk (`--offload`): compressors read them one
at a time through `offloaded_blocks` (kick_layerwise.offload); evaluating reads them all."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from kick_layerwise.offload import OffloadedBlocks, WeightFiles, block_prefixes, load_outside_blocks, skeleton
from kick_layerwise.topology import find_blocks

from kick import ModelSpec
from kick_models.hf import _DTYPES, HFModel, provenance, resolve


class OffloadedHFModel(HFModel):
    """An HFModel whose blocks stay on disk until a compressor or an evaluation needs them."""

    def __init__(self, *args: Any, blocks: OffloadedBlocks, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offloaded_blocks = blocks

    def generate(self, *args: Any, **kwargs: Any) -> list[str]:
        self.offloaded_blocks.materialize()
        return super().generate(*args, **kwargs)

    def choice_logprobs(self, *args: Any, **kwargs: Any) -> list[list[float]]:
        self.offloaded_blocks.materialize()
        return super().choice_logprobs(*args, **kwargs)

    def loglikelihood(self, *args: Any, **kwargs: Any) -> list[tuple[float, int]]:
        self.offloaded_blocks.materialize()
        return super().loglikelihood(*args, **kwargs)

    def token_nll(self, *args: Any, **kwargs: Any) -> list[tuple[float, int]]:
        self.offloaded_blocks.materialize()
        return super().token_nll(*args, **kwargs)

    def save(self, path: str) -> None:
        """Shards written block by block from disk: the model is never whole in memory."""
        self.offloaded_blocks.save(self.module, Path(path))
        self.module.config.save_pretrained(path)
        if getattr(self.module, "generation_config", None) is not None:
            self.module.generation_config.save_pretrained(path)
        self.tokenizer.save_pretrained(path)


def load_hf(spec: ModelSpec, *, source: Mapping[str, Any] | None = None, offload: bool = False) -> HFModel:
    """The `hf` loader: `HFModel.load`, or with `offload` the blocks left on disk."""
    if not offload:
        return HFModel.load(spec, source=source)
    path, config, kw = resolve(spec)
    return load_offloaded(spec, path, config, _DTYPES[spec.dtype], kw, source)


def load_offloaded(
    spec: ModelSpec, path: str, config: Any, dtype: torch.dtype, kw: Mapping[str, Any],
    source: Mapping[str, Any] | None,
) -> OffloadedHFModel:  # fmt: skip
    from transformers import AutoTokenizer

    device = torch.device(spec.device)
    module = skeleton(config, dtype, trust_remote_code=spec.trust_remote_code)
    for owner in module.modules():  # buffers (rotary tables) are real: move them
        for name, buf in list(owner._buffers.items()):
            if buf is not None:
                owner._buffers[name] = buf.to(device)
    files = WeightFiles(Path(path))
    blocks = block_prefixes(module, [b.module for b in find_blocks(module).blocks])
    load_outside_blocks(module, files, [p for p, _ in blocks], device)
    module.eval()
    tokenizer = AutoTokenizer.from_pretrained(path, **kw)
    prov = provenance(spec, config, module, source, offload=True)
    return OffloadedHFModel(
        module, tokenizer, name=spec.name, provenance=prov, blocks=OffloadedBlocks(blocks, files, device)
    )
