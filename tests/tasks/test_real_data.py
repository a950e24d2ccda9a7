"""Each loader reads the full real file in shared/data and the counts match its README.
Skipped when the shared data folder is absent."""

from __future__ import annotations

import pytest

from dataset_builder.rows import shared_data_dir
from kick.plugins import load_plugins

DATA = shared_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="shared/data not found (set KICK_SHARED_DATA)")


def make(name: str, **params):  # type: ignore[no-untyped-def]
    return load_plugins().registry.create("task", name, data=str(DATA / params.pop("path")), **params)


def test_freebaseqa_eval_json_has_4000_questions_with_all_parse_aliases() -> None:
    task = make("factoid-qa", path="freebaseqa/FreebaseQA-eval.v1_1.json")
    samples = task.samples()
    assert len(samples) == 4000
    assert all(s.reference for s in samples)
    assert max(len(s.reference) for s in samples) > 1  # several parses/aliases are kept
    assert task.settings()["source"]["sha256"].startswith("bcd5fb01")


def test_freebaseqa_tab_groups_rows_into_4000_questions() -> None:
    assert len(make("factoid-qa", path="freebaseqa/FreebaseQA-eval.tab").samples()) == 4000


@pytest.mark.parametrize(("split", "count"), [("test", 14042), ("val", 1531)])
def test_mmlu_split_counts_and_dev_shots(split: str, count: int) -> None:
    task = make("mmlu", path="mmlu", split=split)
    samples = task.samples()
    assert len(samples) == count
    assert len({s.meta["subject"] for s in samples}) == 57
    assert sum(len(v) for v in task._dev.values()) == 285


def test_nq_open_oracle_has_2655_questions_with_a_gold_passage() -> None:
    samples = make("icrqa-open", path="nq_open_oracle/nq-open-oracle.jsonl").samples()
    assert len(samples) == 2655
    assert samples[0].meta["context"].startswith("List of Nobel laureates in Physics\nThe first Nobel Prize")


def test_squad_dev_flattens_to_10570_questions() -> None:
    samples = make("icrqa-closed", path="squad_v1.1_dev/dev-v1.1.explorer-derived.json").samples()
    assert len(samples) == 10570


def test_cnn_dm_has_90_stories_and_18_cross_bucket_duplicates_removed() -> None:
    task = make("summarization", path="cnn_dm_summarization")
    samples = task.samples()
    settings = task.settings()
    assert len(samples) + settings["duplicates_removed"] == 90
    assert settings["duplicates_removed"] == 18
    assert settings["per_bucket"] == {"small": 30, "mid": 12, "large": 30}
    assert all("@highlight" not in s.prompt and 2 <= len(s.meta["highlights"]) <= 4 for s in samples)


def test_vicuna_has_80_questions_and_gpt35_references() -> None:
    ref = DATA / "vicuna_bench_llm_kick" / "answer_gpt-3.5-turbo.jsonl"
    samples = make("instruction-following", path="vicuna_bench_llm_kick", reference=str(ref)).samples()
    assert len(samples) == 80
    assert all(isinstance(s.reference, str) and s.reference for s in samples)


def test_mt_bench_has_80_two_turn_questions_and_30_gpt4_references() -> None:
    samples = make("mt-bench", path="mt_bench").samples()
    assert len(samples) == 80
    assert all(len(s.turns) == 2 for s in samples)
    with_ref = [s for s in samples if s.meta["reference_turns"]]
    assert len(with_ref) == 30
    assert {s.category for s in with_ref} == {"math", "reasoning", "coding"}


def test_wikitext2_raw_test_text_is_read_with_lf_line_endings() -> None:
    task = make("perplexity", path="calibration/wikitext-2-raw-v1.test.raw")
    text = task.text()
    assert "\r" not in text and len(text.splitlines()) == 2891
    assert task.settings()["source"]["sha256"].startswith("4f3e427e")
