"""MMLU's `protocol`: kick (lm-evaluation-harness's prompt, stripped questions, log-probs) and
paper (the released code's prompt with its double space, one greedy token, the last character)."""

from __future__ import annotations

import hashlib

import pytest
from kick_tasks.mmlu import Question, build_header, format_question

from kick import SpecError
from kick.plugins import load_plugins

Q = Question("world_religions", "  Which is first?\n", ("one", "two", "three", "four"), "A")


def mmlu(**params):  # type: ignore[no-untyped-def]
    return load_plugins().registry.create("task", "mmlu", **params)


def test_kick_strips_questions_as_lm_eval_does_and_paper_keeps_them() -> None:
    assert format_question(Q, with_answer=False) == "Which is first?\nA. one\nB. two\nC. three\nD. four\nAnswer:"
    assert format_question(Q, with_answer=False, protocol="paper").startswith("  Which is first?\n\nA. one")
    assert format_question(Q, with_answer=True).endswith("Answer: A\n\n")


def test_paper_header_keeps_the_double_space_of_the_released_code() -> None:
    head = "The following are multiple choice questions (with answers) about "
    assert build_header("high_school_biology", [], "paper") == head + " high school biology.\n\n"
    assert build_header("high_school_biology", []) == head + "high school biology.\n\n"
    assert build_header("world_religions", [Q], "paper").endswith("about  world religions.\n\n  Which is first?\n\nA. one\nB. two\nC. three\nD. four\nAnswer: A\n\n")


def test_protocol_picks_the_scoring_mode_and_is_recorded() -> None:
    kick, paper = mmlu(limit=2), mmlu(protocol="paper", limit=2)
    assert kick.config.scoring == "logits" and paper.config.scoring == "generate"
    assert mmlu(protocol="paper", mode="logits", limit=2).config.scoring == "logits"
    assert kick.settings()["protocol"] == "kick" and paper.settings()["protocol"] == "paper"
    assert paper.settings()["mode"] == "generate"
    with pytest.raises(SpecError, match="protocol"):
        mmlu(protocol="lm-eval")


@pytest.mark.torch
def test_records_keep_the_shots_and_the_hash_of_the_scored_prompt(tiny_llama) -> None:  # type: ignore[no-untyped-def]
    for protocol in ("kick", "paper"):
        task = mmlu(subjects="world_religions", shots=2, limit=2, protocol=protocol)
        samples = task.samples()
        for s, p in zip(samples, task.predict(tiny_llama, samples, batch_size=2), strict=True):
            text = task.header("world_religions", 2) + s.prompt
            assert p.extra["shots"] == 2
            assert p.extra["prompt_sha256"] == hashlib.sha256(text.encode()).hexdigest()
            if protocol == "paper":
                assert "about  world religions" in text
                assert p.output == p.extra["generated"][-1:]
            else:
                assert len(p.extra["logprobs"]) == 4


@pytest.mark.torch
def test_the_header_is_computed_once_per_subject_at_batch_1(tiny_llama, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from kick.plugins import load_plugins
    from kick.runner import run
    from kick.types import ComponentSpec, ModelSpec, RunSpec

    calls: list[int] = []
    hook = tiny_llama.module.register_forward_pre_hook(
        lambda _m, _a, kw: calls.append(int(kw["input_ids"].shape[1])), with_kwargs=True
    )
    task = ComponentSpec("mmlu", {"subjects": "world_religions", "shots": 2, "limit": 12})
    spec = RunSpec(model=ModelSpec("tiny"), tasks=(task,), batch_size=1)
    try:
        summary = run(spec, tmp_path / "r", plugins=load_plugins(), model=tiny_llama, footprint=False)
    finally:
        hook.remove()
    n = summary["tasks"]["mmlu"]["metrics"]["dense"]["n"]
    assert n > 4
    # one forward for the 2-shot header, then one per question (chunks of 4 x batch size ran the
    # header again every 4 questions)
    assert len(calls) == 1 + n
    assert calls[0] > max(calls[1:])
