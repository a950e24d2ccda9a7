"""kick plugin: random unstructured pruning (a baseline).

The factory is registered as a lazy `"module:function"` string, so torch (imported by
`pruner.py`) is loaded only when the compressor is first created.
"""

from __future__ import annotations

from kick import Register, hookimpl


@hookimpl
def register_compressors(register: Register) -> None:
    register(
        "random",
        "kick_random_prune.pruner:make_random",
        description="random unstructured pruning of decoder Linear layers (baseline)",
        levels=("sparsity",),
    )
