"""bitsandbytes quantization: LLM.int8() (`llm-int8`) and 4-bit NF4 / FP4 (`nf4`, `fp4`).

Every Linear layer of every decoder block (the same layers the other methods compress) is
replaced by a bitsandbytes layer holding the quantized weight; embeddings and the LM head stay
as they are. bitsandbytes does the quantization and the matmuls: its kernels are what people
ship with (transformers' `BitsAndBytesConfig`), and bitsandbytes >= 0.48 runs them on CPU too.

`llm-int8` defaults to the outlier threshold 6.0 of `BitsAndBytesConfig(load_in_8bit=True)`
(a raw `Linear8bitLt` defaults to 0.0, i.e. no outlier decomposition). The statistics are
measured on the replaced layers: bytes of the quantized weights and of their quantization
constants in memory, and bits per weight = 8 * those bytes / number of weights.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from kick import SpecError, build_config

INSTALL = "pip install 'kick[bnb]' (or pip install bitsandbytes)"
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")


def require_bitsandbytes(method: str) -> None:
    """One clear line, before any work, when bitsandbytes is not installed."""
    if importlib.util.find_spec("bitsandbytes") is None:
        raise SpecError(f"method {method!r} needs bitsandbytes, which is not installed: {INSTALL}")


@dataclass(frozen=True)
class Int8Config:
    threshold: float = 6.0

    def __post_init__(self) -> None:
        if not self.threshold >= 0:
            raise SpecError(
                f"llm-int8: threshold must be >= 0 (0 = no outlier columns), got {self.threshold}"
            )


@dataclass(frozen=True)
class FourBitConfig:
    double_quant: bool = False
    compute_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.compute_dtype not in COMPUTE_DTYPES:
            raise SpecError(
                f"compute_dtype must be one of {', '.join(COMPUTE_DTYPES)}, got {self.compute_dtype!r}"
            )


def _int8_layer(lin: Any, config: Int8Config) -> Any:
    import bitsandbytes as bnb

    new = bnb.nn.Linear8bitLt(
        lin.in_features, lin.out_features, bias=lin.bias is not None,
        has_fp16_weights=False, threshold=config.threshold,
    )  # fmt: skip
    new.weight = bnb.nn.Int8Params(lin.weight.data.clone(), requires_grad=False, has_fp16_weights=False)
    if lin.bias is not None:
        new.bias = type(lin.bias)(lin.bias.data.clone(), requires_grad=False)
    return new.to(lin.weight.device)  # quantizes here


def _four_bit_layer(lin: Any, config: FourBitConfig, quant_type: str) -> Any:
    import bitsandbytes as bnb
    import torch

    new = bnb.nn.Linear4bit(
        lin.in_features, lin.out_features, bias=lin.bias is not None,
        compute_dtype=getattr(torch, config.compute_dtype), compress_statistics=config.double_quant,
        quant_type=quant_type,
    )  # fmt: skip
    new.weight = bnb.nn.Params4bit(
        lin.weight.data.clone(), requires_grad=False, quant_type=quant_type,
        compress_statistics=config.double_quant,
    )  # fmt: skip
    if lin.bias is not None:
        new.bias = type(lin.bias)(lin.bias.data.clone(), requires_grad=False)
    return new.to(lin.weight.device)  # quantizes here


def _nbytes(t: Any) -> int:
    return int(t.numel() * t.element_size()) if t is not None else 0


def quantized_bytes(layer: Any) -> dict[str, int]:
    """Bytes a bitsandbytes layer holds for its weight: the quantized values and their constants
    (int8: one float scale per row; 4-bit: absmax per block, the code book, and with double
    quantization the quantized absmax with its own constants). Bias excluded."""
    w = layer.weight
    state = getattr(w, "quant_state", None)
    if state is None:  # Int8Params: int8 values and SCB (per-row absmax)
        return {"values": _nbytes(w.data), "constants": _nbytes(getattr(w, "SCB", None))}
    constants = _nbytes(state.absmax) + _nbytes(state.code) + _nbytes(getattr(state, "offset", None))
    if state.state2 is not None:
        constants += _nbytes(state.state2.absmax) + _nbytes(state.state2.code)
    return {"values": _nbytes(w.data), "constants": constants}


@dataclass(frozen=True)
class BnbCompressor:
    """A Compressor: swap every block Linear of `model.module` for its bitsandbytes layer."""

    name: str
    config: Int8Config | FourBitConfig
    quant_type: str  # "int8", "nf4" or "fp4"

    def compress(self, model: Any) -> Mapping[str, Any]:
        from kick_layerwise.topology import find_blocks

        topology = find_blocks(model.module)
        layers: list[dict[str, Any]] = []
        start = time.perf_counter()
        for block in topology.blocks:
            for name, lin in block.linears.items():
                rel = name.split(".", 1)[1]
                parent_path, _, attr = rel.rpartition(".")
                parent = block.module.get_submodule(parent_path) if parent_path else block.module
                if self.quant_type == "int8":
                    new = _int8_layer(lin, self.config)  # type: ignore[arg-type]
                else:
                    new = _four_bit_layer(lin, self.config, self.quant_type)  # type: ignore[arg-type]
                # a new module is in training mode; bitsandbytes' CPU int8 path then dequantizes
                # the weight instead of running LLM.int8() with its outlier threshold
                new.train(lin.training)
                setattr(parent, attr, new)
                size = quantized_bytes(new)
                numel = lin.in_features * lin.out_features
                layers.append({
                    "name": name, "shape": [lin.out_features, lin.in_features], "numel": numel,
                    "dense_bytes": numel * lin.weight.element_size(), **size,
                    "bits_per_weight": 8 * (size["values"] + size["constants"]) / numel,
                })  # fmt: skip
        seconds = time.perf_counter() - start
        numel = sum(la["numel"] for la in layers)
        stored = sum(la["values"] + la["constants"] for la in layers)
        return {
            "method": self.name,
            "config": asdict(self.config),
            "backend": {"library": "bitsandbytes", "version": _bnb_version(), "quant_type": self.quant_type},
            "architecture": {"family": topology.family, "model_type": topology.model_type,
                             "blocks": len(topology.blocks)},
            "seconds": seconds,
            "quantized_layers": len(layers),
            "numel": numel,
            "quantized_weight_bytes": stored,
            "dense_weight_bytes": sum(la["dense_bytes"] for la in layers),
            "bits_per_weight": 8 * stored / numel,
            "layers": layers,
        }  # fmt: skip

    save = None
    """bitsandbytes quantizes when a model is loaded: `kick compress` refuses these methods."""


def _bnb_version() -> str:
    from importlib.metadata import version

    return version("bitsandbytes")


def make_llm_int8(**params: Any) -> BnbCompressor:
    """`llm-int8`: LLM.int8() with outlier decomposition above `threshold` (default 6.0)."""
    require_bitsandbytes("llm-int8")
    return BnbCompressor("llm-int8", build_config(Int8Config, params, owner="llm-int8"), "int8")


def make_nf4(**params: Any) -> BnbCompressor:
    """`nf4`: 4-bit NormalFloat, blocks of 64, optional double quantization of the constants."""
    require_bitsandbytes("nf4")
    return BnbCompressor("nf4", build_config(FourBitConfig, params, owner="nf4"), "nf4")


def make_fp4(**params: Any) -> BnbCompressor:
    """`fp4`: 4-bit float, blocks of 64, optional double quantization of the constants."""
    require_bitsandbytes("fp4")
    return BnbCompressor("fp4", build_config(FourBitConfig, params, owner="fp4"), "fp4")
