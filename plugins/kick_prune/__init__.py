"""Built-in pruning: magnitude, wanda, sparsegpt (the two calibrated ones are `seeded`: their
`seed` parameter picks the calibration windows, so a sweep with `seeds` runs them once per seed).

Only the hook lives here, registering each factory as a lazy `"module:function"` string: importing
this module does not import torch (`kick --help` stays fast); a method's module is imported when
its compressor is first created.
"""

from __future__ import annotations

from kick import Register, hookimpl

PRUNING_LEVELS = ("sparsity", "pattern")


@hookimpl
def register_compressors(register: Register) -> None:
    register(
        "magnitude",
        "kick_prune.magnitude:make_magnitude",
        description="per-matrix magnitude pruning (unstructured or N:M)",
        levels=PRUNING_LEVELS,
    )
    register(
        "wanda",
        "kick_prune.wanda:make_wanda",
        description="Wanda: |W| x input norm, per output row, sequential calibration",
        levels=PRUNING_LEVELS,
        seeded=True,
    )
    register(
        "sparsegpt",
        "kick_prune.sparsegpt:make_sparsegpt",
        description="SparseGPT: OBS pruning with calibration Hessian, sequential",
        levels=PRUNING_LEVELS,
        seeded=True,
    )
