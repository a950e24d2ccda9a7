"""Built-in pruning: magnitude, wanda, sparsegpt.

Importing this module must not import torch (`kick --help` stays fast): implementation modules
are imported inside the factories.
"""

from __future__ import annotations

from typing import Any

from kick.hookspecs import hookimpl


def make_magnitude(**params: Any) -> Any:
    from kick_layerwise.engine import LayerwiseCompressor

    from kick.params import build_config
    from kick_prune import magnitude

    return LayerwiseCompressor(
        "magnitude", build_config(magnitude.MagnitudeConfig, params, owner="magnitude"), magnitude.plan
    )


def make_wanda(**params: Any) -> Any:
    from kick_layerwise.engine import LayerwiseCompressor

    from kick.params import build_config
    from kick_prune import wanda

    return LayerwiseCompressor("wanda", build_config(wanda.WandaConfig, params, owner="wanda"), wanda.plan)


def make_sparsegpt(**params: Any) -> Any:
    from kick_layerwise.engine import LayerwiseCompressor

    from kick.params import build_config
    from kick_prune import sparsegpt

    config = build_config(sparsegpt.SparseGPTConfig, params, owner="sparsegpt")
    return LayerwiseCompressor("sparsegpt", config, sparsegpt.plan)


@hookimpl
def register_compressors(register: Any) -> None:
    register("magnitude", make_magnitude, description="per-matrix magnitude pruning (unstructured or N:M)")
    register(
        "wanda", make_wanda, description="Wanda: |W| x input norm, per output row, sequential calibration"
    )
    register(
        "sparsegpt", make_sparsegpt, description="SparseGPT: OBS pruning with calibration Hessian, sequential"
    )
