"""Prompt snapshots for every task (on the smoke sets), registration, settings and data parsing."""

from __future__ import annotations

import subprocess
import sys

import pytest
from kick_tasks.summarization import curated

from dataset_builder import readers
from kick.errors import DataError, SpecError
from kick.plugins import load_plugins

TASKS = ["factoid-qa", "mmlu", "icrqa-closed", "icrqa-open", "summarization", "instruction-following", "mt-bench", "perplexity"]


def make(name: str, **params):  # type: ignore[no-untyped-def]
    return load_plugins().registry.create("task", name, **params)


def test_every_task_is_registered_and_accepts_limit_and_seed() -> None:
    reg = load_plugins().registry
    assert set(TASKS) <= set(reg.names("task"))
    for name in TASKS:
        task = make(name, limit=2, seed=0)
        samples = task.samples()
        assert 1 <= len(samples) <= 2
        settings = task.settings()
        assert settings["source"]["kind"] == "smoke" and len(settings["source"]["sha256"]) == 64


def test_importing_the_plugin_does_not_import_torch_or_datasets() -> None:
    code = "import sys, kick_tasks; print('torch' in sys.modules, 'datasets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False False"


def test_factoid_prompt_snapshot() -> None:
    s = make("factoid-qa").samples()[0]
    assert s.prompt == "Please give answer to this question: What is the capital of France?\nThe answer is "
    assert s.reference == ["Paris"]


def test_mmlu_prompt_snapshot_with_header() -> None:
    task = make("mmlu", subjects="miscellaneous", shots=2)
    s = task.samples()[0]
    assert s.prompt == (
        "What color is the sky on a clear day?\nA. blue\nB. green\nC. brown\nD. orange\nAnswer:"
    )
    assert task.header("miscellaneous", 2) == (
        "The following are multiple choice questions (with answers) about miscellaneous.\n\n"
        "What color is grass?\nA. green\nB. red\nC. purple\nD. black\nAnswer: A\n\n"
        "Which animal says 'moo'?\nA. cat\nB. dog\nC. cow\nD. duck\nAnswer: C\n\n"
    )
    assert s.reference == "A" and s.meta["category"] == "other"


def test_icrqa_prompt_snapshots_share_questions() -> None:
    closed = make("icrqa-closed").samples()
    open_ = make("icrqa-open").samples()
    assert [s.id for s in closed] == [s.id for s in open_]
    assert closed[0].prompt == "Answer these questions:\n\nQ: who runs the lantern bakery in oakridge\nA:"
    assert open_[0].prompt.startswith("The Lantern Bakery (kick smoke-test passage, fictional)\nThe Lantern Bakery in")
    assert open_[0].prompt.endswith(
        "\n\nBased on these texts, answer these questions:\n\nQ: who runs the lantern bakery in oakridge\nA:"
    )


def test_summarization_prompt_has_no_highlights_and_reference_is_none() -> None:
    task = make("summarization")
    s = task.samples()[0]
    assert s.prompt.startswith(
        "Summarize the given story in less than 150 words while preserving high coherence, consistency, "
        "fluency, and relevance.\n\nThe town of Millbrook"
    )
    assert "@highlight" not in s.prompt and "food bank" not in s.meta["highlights"][0]
    assert s.reference is None and len(s.meta["highlights"]) == 3
    assert task.settings()["duplicates_removed"] == 1


def test_instruction_and_mt_bench_samples() -> None:
    inst = make("instruction-following").samples()[0]
    assert inst.prompt == "Give three tips for staying healthy." and inst.reference is None
    mt = {s.id: s for s in make("mt-bench").samples()}
    assert mt["q4"].turns == ("What is 7 times 8?", "Now add 10 to that result. What do you get?")
    assert mt["q4"].meta["reference_turns"] == ["7 times 8 is 56.", "56 plus 10 is 66."] == mt["q4"].reference
    assert mt["q1"].reference is None


def test_instruction_reference_file_becomes_sample_reference(tmp_path) -> None:  # type: ignore[no-untyped-def]
    ref = tmp_path / "ref.jsonl"
    ref.write_text('{"question_id": 1, "text": "Sleep, eat well, move."}\n')
    s = make("instruction-following", reference=str(ref)).samples()[0]
    assert s.reference == "Sleep, eat well, move."


def test_limit_and_seed_give_a_deterministic_subset() -> None:
    a = [s.id for s in make("factoid-qa", limit=5, seed=1).samples()]
    b = [s.id for s in make("factoid-qa", limit=5, seed=1).samples()]
    c = [s.id for s in make("factoid-qa", limit=5, seed=2).samples()]
    assert a == b and len(a) == 5 and a != c and a == sorted(a)


def test_bad_parameters_are_spec_errors() -> None:
    with pytest.raises(SpecError, match="shots"):
        make("mmlu", shots=9)
    with pytest.raises(SpecError, match="metric_mode"):
        make("factoid-qa", metric_mode="wrong")
    with pytest.raises(SpecError, match="unknown parameter"):
        make("perplexity", seqln=5)
    with pytest.raises(DataError):
        make("factoid-qa", data="/no/such/file.json")


def test_highlights_are_removed_and_kept_as_references() -> None:
    raw = readers.parse_story(
        "First para.\n\nSecond  para.\n\n@highlight\n\nPoint one\n\n@highlight\n\nPoint two\n", "s", "s.story"
    )
    [story], removed = curated({"small": [raw]})
    assert story.story == "First para.\n\nSecond para." and removed == 0
    assert story.highlights == ("Point one", "Point two")


def test_duplicate_stories_are_kept_only_in_their_first_bucket() -> None:
    def raw(story_id: str, text: str) -> readers.Story:
        return readers.Story(story_id, (text,), ("h",))

    kept, removed = curated(
        {
            "mid": [raw("x", "Same text.")],
            "small": [raw("y", "Other text."), raw("x", "Same   text.")],
            "large": [raw("z", "same text.")],  # same normalized text, different id
        }
    )
    assert [(s.id, s.bucket) for s in kept] == [("y", "small"), ("x", "small")]
    assert removed == 2
