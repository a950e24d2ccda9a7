"""Built-in judges: `pairwise` (LLM-KICK), `single` (MT-Bench grading), `local-hf` (offline).

Only the hook lives here (factories registered as lazy `"module:function"` strings); openai and
torch are imported when a judge is created or first sends a request.

    kick run ... --judge pairwise --judge-param base_url=http://127.0.0.1:8000/v1 --judge-param model=NAME
    kick judge RUN_DIR --judge single --param base_url=URL --param model=NAME [--force]

Scores (stored in records as `judge.<key>`, aggregated per task by `kick.judging.judge_metrics`):
- pairwise, summarization: coherence, consistency, fluency, relevance (+ `_ref`), inconsistent
- pairwise, instruction / mt-bench: overall, overall_ref, inconsistent
- single: rating (+ rating_t1, rating_t2 for two turns), and the same with `_ref` when the item
  has a reference answer

Parameters (all judges): temperature=0.0, max_tokens=1024 (local-hf: 128), swap=true,
retry_parse=true, concurrency=4, max_requests=0 (unlimited), cache=true, cache_dir="" (default:
$KICK_CACHE_DIR/judge, else RUN_DIR/judge_cache), reference_guided=true (single: math, reasoning,
coding), references="" (a JSONL of reference answers by sample id).
pairwise / single: base_url, model, api_key_env=OPENAI_API_KEY (a dummy key for a local URL),
timeout_s=120, max_retries=5, backoff_s=1, max_backoff_s=60.
local-hf: model=smollm2-135m, protocol=pairwise|single, device=cpu, dtype=float32.
"""

from __future__ import annotations

from kick import Register, hookimpl


@hookimpl
def register_judges(register: Register) -> None:
    register(
        "pairwise",
        "kick_judges.judges:make_pairwise",
        description="LLM-KICK pairwise 1-10 scores vs a reference answer, both orders, via an OpenAI-compatible API",
    )
    register(
        "single",
        "kick_judges.judges:make_single",
        description="MT-Bench single-answer grading [[1-10]], reference-guided for math/reasoning/coding",
    )
    register(
        "local-hf",
        "kick_judges.judges:make_local_hf",
        description="pairwise or single grading by a local model (e.g. smollm2-135m), no server needed",
    )
