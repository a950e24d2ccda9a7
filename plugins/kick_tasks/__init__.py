"""Built-in LLM-KICK tasks. Only the hook lives here: each factory imports its task module
(and through it datasets/torch-free helpers) when a task is created, so `kick --help` stays fast.

Every task takes `data` (default `smoke`: the built-in smoke-test set; `shared`: the real raw data
in the shared data folder; a path to a raw file/folder or a built dataset folder; a Hub id),
`limit` and `seed`. See each task module's docstring for its prompt, metrics and other params.
"""

from __future__ import annotations

from typing import Any

from kick.hookspecs import hookimpl


def make_factoid_qa(**params: Any) -> Any:
    from kick_tasks.factoid import make_factoid_qa as make

    return make(**params)


def make_mmlu(**params: Any) -> Any:
    from kick_tasks.mmlu import make_mmlu as make

    return make(**params)


def make_icrqa_closed(**params: Any) -> Any:
    from kick_tasks.icrqa import make_icrqa

    return make_icrqa("closed", **params)


def make_icrqa_open(**params: Any) -> Any:
    from kick_tasks.icrqa import make_icrqa

    return make_icrqa("open", **params)


def make_summarization(**params: Any) -> Any:
    from kick_tasks.summarization import make_summarization as make

    return make(**params)


def make_instruction_following(**params: Any) -> Any:
    from kick_tasks.instruct import make_instruction_following as make

    return make(**params)


def make_mt_bench(**params: Any) -> Any:
    from kick_tasks.instruct import make_mt_bench as make

    return make(**params)


def make_perplexity(**params: Any) -> Any:
    from kick_tasks.perplexity import make_perplexity as make

    return make(**params)


@hookimpl
def register_tasks(register: Any) -> None:
    register("factoid-qa", make_factoid_qa, description="FreebaseQA factoid QA: EM / alias-in-answer (paper metric as option)")
    register("mmlu", make_mmlu, description="MMLU 57 subjects, k-shot, letter logits (or paper's generate mode)")
    register("icrqa-closed", make_icrqa_closed, description="closed-book QA (NQ-Open oracle / TriviaQA): EM, F1")
    register("icrqa-open", make_icrqa_open, description="open-book QA with the gold passage in context: EM, F1")
    register("summarization", make_summarization, description="CNN/DM in-context summarization (judged; ROUGE-L offline)")
    register("instruction-following", make_instruction_following, description="Vicuna-80 answers (judged) + distinct-n")
    register("mt-bench", make_mt_bench, description="MT-Bench 80 two-turn questions (judged)")
    register("perplexity", make_perplexity, description="WikiText-2 perplexity over non-overlapping token windows")
