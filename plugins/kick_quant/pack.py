"""gptq / rtn models written as packed integer checkpoints in the compressed-tensors format.

The compressed-tensors library (the format of llm-compressor, read by transformers and vLLM) owns
the format: `apply_quantization_config` attaches the scheme and the scale / zero-point
parameters to every quantized Linear, `ModelCompressor(..., "pack-quantized")` packs the
integers into int32 words (`weight_packed`, `weight_scale`, `weight_zero_point`,
`weight_shape`) and writes `quantization_config` into config.json. kick supplies what only it
knows: the integers and grids of its own quantizers (`kick_quant.grid`), checked to reproduce
the in-memory weights, and which layers are quantized (the decoder blocks' Linears; the rest,
LM head included, is listed in `ignore`).

GPTQ with act-order uses static groups (each stored group of columns on one grid), so act-order
checkpoints need no `g_idx`: the layout is the same as without act-order.
"""

from __future__ import annotations

import importlib.util
import json
import os
from dataclasses import dataclass
from typing import Any

import torch
from kick_layerwise.engine import LayerwiseCompressor

from kick import KickError, SpecError
from kick_quant.grid import IntWeight, recover_grid

INSTALL = "pip install compressed-tensors"
FORMAT = "pack-quantized"


def require_compressed_tensors() -> None:
    if importlib.util.find_spec("compressed_tensors") is None:
        raise SpecError(
            f"writing a packed checkpoint needs compressed-tensors, which is not installed: {INSTALL}"
        )


def scheme_args(bits: int, group_size: int, sym: bool) -> dict[str, Any]:
    """compressed-tensors QuantizationArgs for kick's grid: int weights, per group or per channel."""
    args: dict[str, Any] = {"num_bits": bits, "type": "int", "symmetric": sym, "dynamic": False}
    if group_size == -1:
        args["strategy"] = "channel"
    else:
        args.update(strategy="group", group_size=group_size)
    return args


def pack_and_save(
    model: Any, path: str, *, bits: int, group_size: int, sym: bool, method: str, dtype: str | None = None
) -> dict[str, Any]:
    """Write `model` (an hf backend whose block Linears `method` fake-quantized) to `path` as a
    packed compressed-tensors checkpoint; returns what was measured (per-layer grid error).
    The module in memory is packed in place: it is not used after saving."""
    require_compressed_tensors()
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization import (
        QuantizationArgs,
        QuantizationConfig,
        QuantizationScheme,
        QuantizationStatus,
        apply_quantization_config,
    )
    from kick_layerwise.topology import find_blocks

    module = model.module
    full_name = {id(m): n for n, m in module.named_modules()}
    topology = find_blocks(module)
    block_linears = {full_name[id(lin)]: lin for _, lin in topology.linears()}
    others = [
        n for n, m in module.named_modules() if isinstance(m, torch.nn.Linear) and n not in block_linears
    ]
    grids: dict[str, IntWeight] = {}
    for name, lin in block_linears.items():
        grids[name] = recover_grid(lin.weight, bits=bits, group_size=group_size, sym=sym, name=name)
    if dtype is not None and dtype != "float32":  # scales and unquantized tensors in that dtype
        module.to(getattr(torch, dtype))
    scheme = QuantizationScheme(
        targets=["Linear"], weights=QuantizationArgs(**scheme_args(bits, group_size, sym))
    )
    config = QuantizationConfig(
        config_groups={"group_0": scheme}, ignore=others, format=FORMAT,
        quantization_status=QuantizationStatus.FROZEN,
    )  # fmt: skip
    apply_quantization_config(module, config, show_progress=False)
    with torch.no_grad():
        for name, lin in block_linears.items():
            grid = grids[name]
            lin.weight_scale.data = grid.scale.to(lin.weight_scale.dtype).reshape(lin.weight_scale.shape)
            if grid.zero is not None:
                lin.weight_zero_point.data = grid.zero.to(lin.weight_zero_point.dtype).reshape(
                    lin.weight_zero_point.shape
                )
            elif hasattr(lin, "weight_zero_point"):
                lin.weight_zero_point.data.zero_()
    compressor = ModelCompressor.from_pretrained_model(module, quantization_format=FORMAT)
    compressor.compress_model(module)
    _check_packed(block_linears, grids, bits)
    module.save_pretrained(path)
    compressor.update_config(path)
    if not sym:
        _dequantize_on_load(path)
    model.tokenizer.save_pretrained(path)
    return {
        "format": f"compressed-tensors {FORMAT}",
        "compressed_tensors_version": _version("compressed-tensors"),
        "scheme": scheme_args(bits, group_size, sym),
        "quantized_layers": len(block_linears),
        "ignored": others,
        "method": method,
        "max_abs_grid_error": max(g.max_abs_error for g in grids.values()),
    }


def _dequantize_on_load(path: str) -> None:
    """Asymmetric checkpoints load in transformers only through the dequantize route: with
    compressed-tensors 0.20 its compressed route builds `weight_zero_point` unpacked
    ([rows, groups]) on the meta device while the file holds it packed, as vLLM reads it, and the
    load fails on the shape. `dequantize: true` (a transformers CompressedTensorsConfig key; vLLM
    ignores it) makes the plain `from_pretrained(folder)` work."""
    file = os.path.join(path, "config.json")
    with open(file) as f:
        config = json.load(f)
    config["quantization_config"]["dequantize"] = True
    with open(file, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def _check_packed(linears: dict[str, Any], grids: dict[str, IntWeight], bits: int) -> None:
    """The packed words hold exactly the recovered integers (the library re-quantizes the
    weight with our scales; a rounding difference here would change the model)."""
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32

    for name, lin in linears.items():
        unpacked = unpack_from_int32(lin.weight_packed, bits, torch.Size(grids[name].q.shape))
        if not torch.equal(unpacked.to(torch.int8), grids[name].q):
            raise KickError(f"{name}: the packed integers differ from the recovered grid")


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


PACKING = "kick_packing.json"


@dataclass(frozen=True)
class PackedQuantizer(LayerwiseCompressor):
    """gptq / rtn: the layerwise compressor whose `save` writes the packed checkpoint, plus
    kick_packing.json (format, scheme, largest grid error) beside it. A model with its blocks
    on disk (`--offload`) is written as its own dense shards, block by block (packing needs the
    whole model in memory, which offloading exists to avoid); its manifest then has no packing."""

    def save(self, model: Any, path: str, *, dtype: str | None = None) -> None:
        if getattr(model, "offloaded_blocks", None) is not None:
            model.save(path, **({"dtype": dtype} if dtype else {}))
            return
        c = self.config
        info = pack_and_save(
            model, path, bits=c.bits, group_size=c.group_size, sym=c.sym, method=self.name, dtype=dtype
        )
        with open(os.path.join(path, PACKING), "w") as f:
            json.dump(info, f, indent=2)
