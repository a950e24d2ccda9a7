"""Built-in LLM-KICK tasks. Only the hook lives here: each
factory is registered as a lazy `"module:function"` string, so a task module (and through it
datasets) is imported when the task is first created and `kick --help` stays fast.

Every task takes `data` (default `smoke`: the built-in smoke-test set; `shared`: the real raw data
in the shared data folder; a path to a raw file/folder or a built dataset folder; a Hub id),
`limit` and `seed`. See each task module's docstring for its prompt, metrics and other params.
"""

from __future__ import annotations

from kick import Register, hookimpl


@hookimpl
def register_tasks(register: Register) -> None:
    register(
        "factoid-qa",
        "kick_tasks.factoid:make_factoid_qa",
        description="FreebaseQA factoid QA: EM / alias-in-answer (paper metric as option)",
    )
    register(
        "mmlu",
        "kick_tasks.mmlu:make_mmlu",
        description="MMLU 57 subjects, k-shot, letter logits (or paper's generate mode)",
    )
    register(
        "icrqa-closed",
        "kick_tasks.icrqa:make_icrqa_closed",
        description="closed-book QA (NQ-Open oracle / TriviaQA): EM, F1",
    )
    register(
        "icrqa-open",
        "kick_tasks.icrqa:make_icrqa_open",
        description="open-book QA with the gold passage in context: EM, F1",
    )
    register(
        "summarization",
        "kick_tasks.summarization:make_summarization",
        description="CNN/DM in-context summarization (judged; ROUGE-L offline)",
    )
    register(
        "instruction-following",
        "kick_tasks.instruct:make_instruction_following",
        description="Vicuna-80 answers (judged) + distinct-n",
    )
    register(
        "mt-bench",
        "kick_tasks.instruct:make_mt_bench",
        description="MT-Bench 80 two-turn questions (judged)",
    )
    register(
        "perplexity",
        "kick_tasks.perplexity:make_perplexity",
        description="WikiText-2 perplexity over non-overlapping token windows",
    )
