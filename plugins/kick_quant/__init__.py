"""Built-in weight quantization: gptq, rtn (kick's own; `kick compress` writes them packed in the
compressed-tensors format) and bitsandbytes llm-int8, nf4, fp4 (optional `kick[bnb]`).

Shares topology, calibration and the sequential engine with `kick_prune` through the library
`kick_layerwise`. Only the hook lives here, registering each factory as a lazy
`"module:function"` string: importing this module does not import torch.
"""

from __future__ import annotations

from kick import Register, hookimpl


@hookimpl
def register_compressors(register: Register) -> None:
    register(
        "gptq",
        "kick_quant.gptq:make_gptq",
        description="GPTQ: 2/3/4/8-bit OBS quantization, groups, act-order, sequential",
        levels=("bits",),
        seeded=True,
    )
    register(
        "rtn",
        "kick_quant.rtn:make_rtn",
        description="round-to-nearest 2/3/4/8-bit quantization with groups",
        levels=("bits",),
    )
    for name, what in (
        ("llm-int8", "bitsandbytes LLM.int8(): int8 weights, fp outlier columns above threshold (6.0)"),
        ("nf4", "bitsandbytes 4-bit NormalFloat, blocks of 64, optional double_quant (kick[bnb])"),
        ("fp4", "bitsandbytes 4-bit float, blocks of 64, optional double_quant (kick[bnb])"),
    ):
        register(name, f"kick_quant.bnb:make_{name.replace('-', '_')}", description=what)
