"""The normalized LLM-KICK dataset schema: the contract between `dataset_builder` and the tasks.

A built dataset folder (or a Hub dataset repo) has one config per entry below, each with Parquet
shards per split at `<config>/<split>-00000-of-00001.parquet`, and a dataset card `README.md`.
Tasks load it with `datasets.load_dataset(folder_or_repo_id, config, split=split)` and rely only on
the fields listed here. Every row also carries `source` (short source name) and `license`.
"""

from __future__ import annotations

from typing import Any

COMMON_FIELDS: dict[str, str] = {"id": "string", "source": "string", "license": "string"}

CONFIGS: dict[str, dict[str, Any]] = {
    # Factoid QA (FreebaseQA): every alias of every parse, de-duplicated, original casing.
    "factoid_qa": {
        "splits": ["eval", "dev"],
        "fields": {"question": "string", "answers": "list[string]"},
    },
    # MMLU: subject is the file stem (e.g. "high_school_physics"); category one of
    # "STEM", "humanities", "social sciences", "other"; answer is "A".."D".
    "mmlu": {
        "splits": ["dev", "validation", "test"],
        "fields": {
            "subject": "string",
            "category": "string",
            "question": "string",
            "choices": "list[string] (4)",
            "answer": "string",
        },
    },
    # In-context retrieval QA: the same rows serve closed-book (question only) and open-book.
    "icrqa_nq_open": {
        "splits": ["test"],
        "fields": {
            "question": "string",
            "answers": "list[string]",
            "context": "string",
            "context_title": "string",
        },
    },
    # SQuAD v1.1 dev flattened (one row per question; answers de-duplicated, order kept):
    # a second open-book/closed-book substitute; context_title is the article title.
    "icrqa_squad": {
        "splits": ["validation"],
        "fields": {
            "question": "string",
            "answers": "list[string]",
            "context": "string",
            "context_title": "string",
        },
    },
    # Summarization: story text without @highlight lines, paragraphs separated by a blank line;
    # highlights kept as human references; a story appears in one bucket only.
    "summarization_small": {
        "splits": ["test"],
        "fields": {"bucket": "string", "story": "string", "highlights": "list[string]"},
    },
    "summarization_mid": {
        "splits": ["test"],
        "fields": {"bucket": "string", "story": "string", "highlights": "list[string]"},
    },
    "summarization_large": {
        "splits": ["test"],
        "fields": {"bucket": "string", "story": "string", "highlights": "list[string]"},
    },
    # Vicuna-80: single-turn questions with a reference answer (GPT-3.5-turbo, from llm-kick).
    "vicuna_bench": {
        "splits": ["test"],
        "fields": {
            "category": "string",
            "question": "string",
            "reference_answer": "string",
            "reference_model": "string",
        },
    },
    # MT-Bench: two turns; reference_turns is empty unless the category has GPT-4 references.
    "mt_bench": {
        "splits": ["test"],
        "fields": {"category": "string", "turns": "list[string]", "reference_turns": "list[string]"},
    },
    # Perplexity text (WikiText-2 raw test): one row per original line, LF line endings: each
    # `text` ends in "\n", so "".join(rows["text"]) is the original file with CRLF -> LF.
    "wikitext2": {
        "splits": ["test"],
        "fields": {"text": "string"},
    },
}

# Optional "mini" variants (`<config>_mini`, built with `kick data build --mini N`): the same
# fields and splits as the full config, a seeded subsample of at most N rows per split in the
# original order. MMLU's dev split (the 5-shot pool) is kept whole; other MMLU splits are
# subsampled per subject (max(1, N // 57) each); WikiText-2 keeps its first N lines.
MINI_SUFFIX = "_mini"


def base_config(name: str) -> str:
    """The schema config a (possibly mini) config name follows."""
    return name[: -len(MINI_SUFFIX)] if name.endswith(MINI_SUFFIX) else name
