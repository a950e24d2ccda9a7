"""Built-in weight quantization: gptq, rtn (weights stored dequantized).

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
