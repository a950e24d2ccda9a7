"""Built-in judges: `pairwise` (LLM-KICK), `single` (MT-Bench grading), `local-hf` (offline).

Only the hook lives here; openai and torch are imported when a judge first sends a request.
"""

from __future__ import annotations

from typing import Any

from kick.hookspecs import hookimpl


def _pairwise(**params: Any) -> Any:
    from kick_judges.judges import make_pairwise

    return make_pairwise(**params)


def _single(**params: Any) -> Any:
    from kick_judges.judges import make_single

    return make_single(**params)


def _local_hf(**params: Any) -> Any:
    from kick_judges.judges import make_local_hf

    return make_local_hf(**params)


@hookimpl
def register_judges(register: Any) -> None:
    register(
        "pairwise",
        _pairwise,
        description="LLM-KICK pairwise 1-10 scores vs a reference answer, both orders, via an OpenAI-compatible API",
    )
    register(
        "single",
        _single,
        description="MT-Bench single-answer grading [[1-10]], reference-guided for math/reasoning/coding",
    )
    register(
        "local-hf",
        _local_hf,
        description="pairwise or single grading by a local model (e.g. smollm2-135m), no server needed",
    )
