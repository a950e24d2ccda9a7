"""`checkpoint`: a model someone else compressed, evaluated as the compressed variant of its
dense base (`kick eval COMPRESSED --reference DENSE`).

The run's model is the dense reference; "compressing" it loads the compressed checkpoint
(compressed-tensors, GPTQ, AWQ, bitsandbytes ..., by folder or Hub id) with transformers and
puts it in the reference's place, so the dense and compressed variants go through the same
tasks, comparison and verdicts as any kick-compressed cell. The statistics record the
checkpoint's own `quantization_config`, its size on disk and its weight bytes in memory.

A checkpoint whose format needs a library that is not installed is refused when the component
is built (before any model is loaded), naming the package to install.
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kick import ModelLoadError, ModelSpec, SpecError, build_config

# quant_method in config.json -> (importable module, what to pip install); transformers' own needs
NEEDS = {
    "compressed-tensors": ("compressed_tensors", "compressed-tensors"),
    "bitsandbytes": ("bitsandbytes", "bitsandbytes (or pip install 'kick[bnb]')"),
    "gptq": ("gptqmodel", "gptqmodel optimum"),
    "awq": ("gptqmodel", "gptqmodel"),
    "hqq": ("hqq", "hqq"),
    "quanto": ("optimum.quanto", "optimum-quanto"),
    "torchao": ("torchao", "torchao"),
    "fp8": ("accelerate", "accelerate"),
}


@dataclass(frozen=True)
class CheckpointConfig:
    path: str = ""
    revision: str | None = None

    def __post_init__(self) -> None:
        if not self.path:
            raise SpecError("checkpoint: give the compressed model as path=FOLDER or Hub id")


def local_config(path: str) -> dict[str, Any] | None:
    """config.json of a local folder (None for a Hub id); ModelLoadError for a folder without one."""
    expanded = os.path.expanduser(path)
    if not os.path.isdir(expanded):
        if path.startswith((".", "/", "~")):
            raise ModelLoadError(f"compressed model folder {path!r} does not exist")
        return None
    file = os.path.join(expanded, "config.json")
    if not os.path.isfile(file):
        raise ModelLoadError(f"compressed model folder {path!r} has no config.json: not a transformers model")
    with open(file) as f:
        return dict(json.load(f))


def check_format_library(quant: Mapping[str, Any] | None, path: str) -> None:
    """The library a checkpoint's quantization format needs, or one line naming it."""
    if not quant:
        return
    method = str(quant.get("quant_method", ""))
    need = NEEDS.get(method)
    if need is not None and importlib.util.find_spec(need[0].split(".")[0]) is None:
        raise SpecError(f"{path!r} is a {method} checkpoint: loading it needs pip install {need[1]}")


def folder_bytes(path: str) -> dict[str, int] | None:
    expanded = os.path.expanduser(path)
    if not os.path.isdir(expanded):
        return None
    files = [os.path.join(d, f) for d, _, names in os.walk(expanded) for f in names]
    weights = [f for f in files if f.endswith((".safetensors", ".bin"))]
    return {
        "weights_bytes": sum(os.path.getsize(f) for f in weights),
        "total_bytes": sum(os.path.getsize(f) for f in files),
    }


@dataclass(frozen=True)
class Checkpoint:
    """A Compressor that replaces the reference model with the compressed checkpoint."""

    name: str
    config: CheckpointConfig
    quantization_config: Mapping[str, Any] | None

    save = None
    """Already a checkpoint: there is nothing for `kick compress` to write."""

    def compress(self, model: Any) -> Mapping[str, Any]:
        from kick_models.hf import HFModel, weight_bytes

        start = time.perf_counter()
        spec = ModelSpec(
            self.config.path,
            revision=self.config.revision,
            dtype=str(model.info().get("dtype", "float32")),
            device=str(model.info().get("device", "cpu")),
        )
        try:
            loaded = HFModel.load(spec)
        except ImportError as e:  # a format library transformers asks for that NEEDS does not list
            raise ModelLoadError(f"cannot load {self.config.path!r}: {str(e).splitlines()[0]}") from None
        if loaded.tokenizer.get_vocab() != model.tokenizer.get_vocab():
            raise ModelLoadError(
                f"{self.config.path!r} has another tokenizer than its reference {model.name!r}: "
                "a checkpoint is compared with the dense model it was compressed from"
            )
        seconds = time.perf_counter() - start
        model.adopt(loaded)
        quant = getattr(loaded.module.config, "quantization_config", None)
        if quant is not None and not isinstance(quant, Mapping):
            quant = quant.to_dict()
        return {
            "method": self.name,
            "checkpoint": dict(loaded.info()),
            "quantization_config": _jsonable(quant if quant is not None else self.quantization_config),
            "size_on_disk": folder_bytes(self.config.path),
            "weight_bytes_in_memory": weight_bytes(loaded.module),
            "seconds": seconds,
        }


def _jsonable(obj: Any) -> Any:
    return json.loads(json.dumps(obj, default=str)) if obj is not None else None


def make_checkpoint(**params: Any) -> Checkpoint:
    """`checkpoint`: evaluate an already-compressed model (path=...) against the run's model."""
    config = build_config(CheckpointConfig, params, owner="checkpoint")
    quant = (local_config(config.path) or {}).get("quantization_config")
    check_format_library(quant, config.path)
    return Checkpoint("checkpoint", config, quant)
