"""Built-in weight quantization: gptq, rtn (weights stored dequantized).

Shares topology, calibration and the sequential engine with `kick_prune`. Importing this module
must not import torch; implementation modules are imported inside the factories.
"""

from __future__ import annotations

from typing import Any

from kick.hookspecs import hookimpl


def make_gptq(**params: Any) -> Any:
    from kick_layerwise.engine import LayerwiseCompressor

    from kick.params import build_config
    from kick_quant import gptq

    return LayerwiseCompressor("gptq", build_config(gptq.GPTQConfig, params, owner="gptq"), gptq.plan)


def make_rtn(**params: Any) -> Any:
    from kick_layerwise.engine import LayerwiseCompressor

    from kick.params import build_config
    from kick_quant import rtn

    return LayerwiseCompressor("rtn", build_config(rtn.RTNConfig, params, owner="rtn"), rtn.plan)


@hookimpl
def register_compressors(register: Any) -> None:
    register(
        "gptq", make_gptq, description="GPTQ: 2/3/4/8-bit OBS quantization, groups, act-order, sequential"
    )
    register("rtn", make_rtn, description="round-to-nearest 2/3/4/8-bit quantization with groups")
