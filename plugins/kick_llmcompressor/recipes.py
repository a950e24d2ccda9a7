"""The `llmcompressor` compressor: an llm-compressor recipe applied with `oneshot`.

The recipe is a YAML file or one of the presets below (written out as YAML, so the run records
the exact recipe text and its sha256 either way). Calibration is kick's own (`kick_layerwise.
calibration`: the same source, windows and seed as gptq / wanda / sparsegpt), handed to
`oneshot` as an already tokenized dataset. After `oneshot` the model runs with the recipe's
quantization simulated in memory (compressed-tensors' forward hooks) and is evaluated like any
other method; `kick compress` writes it with llm-compressor's own `save_pretrained(...,
save_compressed=True)`, i.e. a compressed-tensors checkpoint transformers and vLLM load.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from kick import SpecError, build_config

INSTALL = "pip install 'kick[llmcompressor]' (llm-compressor pins its own transformers: use a separate venv)"

# the compressed-tensors preset schemes, LM head kept dense, as in llm-compressor's examples
# (W4A16 and W8A8 run on a tiny Llama on CPU; llm-compressor 0.14's AWQ stops on CPU with
# "Cannot access accelerator device", so it is refused there before any work)
PRESETS = {
    "W4A16": """\
quant_stage:
  quant_modifiers:
    GPTQModifier:
      targets: [Linear]
      ignore: [lm_head]
      scheme: W4A16
""",
    "W8A8": """\
quant_stage:
  quant_modifiers:
    SmoothQuantModifier:
      smoothing_strength: 0.8
    GPTQModifier:
      targets: [Linear]
      ignore: [lm_head]
      scheme: W8A8
""",
    # AWQ only rescales channels (its default mappings per architecture); the quantization
    # modifier after it quantizes with the scheme the scales were searched for
    "awq-w4a16": """\
quant_stage:
  quant_modifiers:
    AWQModifier: {}
    QuantizationModifier:
      targets: [Linear]
      ignore: [lm_head]
      scheme: W4A16_ASYM
""",
}


def require_llmcompressor() -> None:
    if importlib.util.find_spec("llmcompressor") is None:
        raise SpecError(f"method 'llmcompressor' needs llm-compressor, which is not installed: {INSTALL}")


@dataclass(frozen=True)
class LLMCompressorConfig:
    recipe: str = "W4A16"
    nsamples: int = 128
    seqlen: int = 2048
    seed: int = 0
    calibration: str | None = None

    def __post_init__(self) -> None:
        if self.recipe not in PRESETS and not os.path.isfile(os.path.expanduser(self.recipe)):
            raise SpecError(
                f"llmcompressor: recipe {self.recipe!r} is neither a file nor a preset ({', '.join(PRESETS)})"
            )
        if self.nsamples < 1 or self.seqlen < 2:
            raise SpecError("llmcompressor: nsamples must be >= 1 and seqlen >= 2")

    def recipe_text(self) -> str:
        if self.recipe in PRESETS:
            return PRESETS[self.recipe]
        with open(os.path.expanduser(self.recipe)) as f:
            return f.read()


@dataclass(frozen=True)
class LLMCompressor:
    name: str
    config: LLMCompressorConfig

    def compress(self, model: Any) -> Mapping[str, Any]:
        from datasets import Dataset
        from kick_layerwise.calibration import load_calibration, model_max_positions
        from llmcompressor import oneshot

        c = self.config
        calib = load_calibration(
            model.tokenizer, c.calibration, nsamples=c.nsamples, seqlen=c.seqlen, seed=c.seed,
            max_positions=model_max_positions(model.module),
        )  # fmt: skip
        rows = [list(map(int, r)) for r in calib.input_ids.tolist()]
        data = Dataset.from_dict({"input_ids": rows, "attention_mask": [[1] * len(r) for r in rows]})
        recipe = c.recipe_text()
        start = time.perf_counter()
        oneshot(
            model=model.module, processor=model.tokenizer, dataset=data, recipe=recipe,
            num_calibration_samples=len(rows),
            max_seq_length=max(len(r) for r in rows), shuffle_calibration_samples=False,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        model.module.eval()
        return {
            "method": self.name,
            "config": asdict(c),
            "recipe": recipe,
            "recipe_sha256": hashlib.sha256(recipe.encode()).hexdigest(),
            "calibration": calib.record,
            "llmcompressor_version": _version("llmcompressor"),
            "compressed_tensors_version": _version("compressed-tensors"),
            "quantization_config": _quantization_config(model.module),
            "seconds": seconds,
        }

    def save(self, model: Any, path: str, *, dtype: str | None = None) -> None:
        import torch

        if dtype is not None:
            model.module.to(getattr(torch, dtype))
        model.module.save_pretrained(path, save_compressed=True)
        model.tokenizer.save_pretrained(path)


def _quantization_config(module: Any) -> dict[str, Any] | None:
    from compressed_tensors.quantization import QuantizationConfig

    config = QuantizationConfig.from_pretrained(module)
    return config.model_dump(mode="json") if config is not None else None


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def make_llmcompressor(**params: Any) -> LLMCompressor:
    """`llmcompressor`: recipe=FILE.yaml or a preset, on kick's calibration windows."""
    require_llmcompressor()
    config = build_config(LLMCompressorConfig, params, owner="llmcompressor")
    if "AWQModifier" in config.recipe_text() and not _has_accelerator():
        raise SpecError(
            "llmcompressor: the AWQ modifier of llm-compressor 0.14 needs a GPU (it fails on CPU)"
        )
    return LLMCompressor("llmcompressor", config)


def _has_accelerator() -> bool:
    import torch

    return torch.accelerator.current_accelerator() is not None
