"""Tasks driven through the real HFModel backend on a tiny random Llama (fast, offline)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
from kick_tasks.mmlu import CHOICE_CONTINUATIONS, LETTERS
from kick_tasks.perplexity import windows
from support.tiny import tiny_llama

from kick.plugins import load_plugins
from kick.runner import run
from kick.types import ComponentSpec, ModelSpec, RunSpec

pytestmark = pytest.mark.torch


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return tiny_llama()  # one per module: the tests here only read it


def make(name: str, **params):  # type: ignore[no-untyped-def]
    return load_plugins().registry.create("task", name, **params)


def test_mmlu_letter_scoring_matches_hand_computed_logits(model) -> None:  # type: ignore[no-untyped-def]
    task = make("mmlu", subjects="elementary_mathematics", shots=2, limit=3)
    samples = task.samples()
    preds = task.predict(model, samples, batch_size=2)
    tok = model.tokenizer
    letter_ids = [tok(c, add_special_tokens=False)["input_ids"][0] for c in CHOICE_CONTINUATIONS]
    assert len(set(letter_ids)) == 4
    for s, p in zip(samples, preds, strict=True):
        text = task.header("elementary_mathematics", 2) + s.prompt
        ids = torch.tensor([tok(text, add_special_tokens=True)["input_ids"]])
        with torch.no_grad():
            logits = model.module(input_ids=ids).logits[0, -1].float()
        logp = torch.log_softmax(logits, -1)[letter_ids]
        assert p.output == LETTERS[int(logp.argmax())]
        assert p.extra["logprobs"] == pytest.approx(logp.tolist(), abs=1e-4)
        assert p.extra["shots"] == 2


def test_prefix_cache_and_plain_scoring_agree(model) -> None:  # type: ignore[no-untyped-def]
    task = make("mmlu", subjects="world_religions", shots=5)
    samples = task.samples()
    header = task.header("world_religions", 5)
    prompts = [s.prompt for s in samples]
    cached = model.choice_logprobs(prompts, CHOICE_CONTINUATIONS, prefix=header, batch_size=3)
    plain = model.choice_logprobs([header + p for p in prompts], CHOICE_CONTINUATIONS, batch_size=3)
    assert [x for r in cached for x in r] == pytest.approx([x for r in plain for x in r], abs=1e-4)
    assert [max(range(4), key=r.__getitem__) for r in cached] == [
        max(range(4), key=r.__getitem__) for r in plain
    ]


def test_mmlu_drops_shots_until_the_prompt_fits_the_context() -> None:
    small = tiny_llama(context=160)
    task = make("mmlu", subjects="world_religions", shots=5, limit=2)
    s = task.samples()[0]
    k = task.shots_that_fit(small, "world_religions", s.prompt)
    assert 0 <= k < 5
    assert small.count_tokens(task.header("world_religions", k) + s.prompt) + 1 <= 160
    if k < 5:
        assert small.count_tokens(task.header("world_religions", k + 1) + s.prompt) + 1 > 160
    assert task.predict(small, [s], batch_size=1)[0].extra["shots"] == k


def test_mmlu_generate_mode_takes_the_last_character(model) -> None:  # type: ignore[no-untyped-def]
    task = make("mmlu", subjects="miscellaneous", shots=1, mode="generate", limit=2)
    for p in task.predict(model, task.samples(), batch_size=2):
        assert p.output == p.extra["generated"][-1:]


def test_icrqa_open_truncates_context_by_tokens_and_reports_the_rate() -> None:
    small = tiny_llama(context=96)
    task = make("icrqa-open", limit=4)
    samples = task.samples()
    preds = task.predict(small, samples, batch_size=4)
    assert all(p.extra["truncated"] for p in preds)
    for p in preds:
        assert p.extra["context_tokens"] <= 96 - 32
    big = make("icrqa-open", limit=4).predict(tiny_llama(context=1024), samples, batch_size=4)
    assert not any(p.extra["truncated"] for p in big)


def test_summarization_counts_overflow_and_keeps_the_instruction() -> None:
    small = tiny_llama(context=200)
    task = make("summarization", max_new_tokens=16, limit=2)
    s = task.samples()[0]
    prompt, cut = task.fit(small, s)
    assert cut and prompt.startswith("Summarize the given story")
    # the whole chat prompt (template included, measured exactly) leaves room for 16 new tokens
    chat_ids = small.tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, tokenize=True
    )
    chat_ids = chat_ids["input_ids"] if hasattr(chat_ids, "keys") else chat_ids
    assert 200 - 16 - 8 <= len(chat_ids) <= 200 - 16
    assert task.fit(tiny_llama(context=4096), s) == (s.prompt, False)


def test_perplexity_equals_hand_computed_nll(model) -> None:  # type: ignore[no-untyped-def]
    task = make("perplexity", seqlen=64, max_windows=2)
    pred = task.predict(model, task.samples(), batch_size=2)[0]
    ids = model.encode(task.text())
    wins = windows(ids, 64, 2)
    assert len(wins) == 2 and wins[1][0] == ids[64]
    total = 0.0
    for w in wins:
        t = torch.tensor([w])
        with torch.no_grad():
            logp = torch.log_softmax(model.module(input_ids=t).logits[0, :-1].float(), -1)
        total -= float(logp.gather(-1, t[0, 1:, None]).sum())
    assert pred.extra["tokens"] == 2 * 63
    assert pred.extra["nll_sum"] == pytest.approx(total, rel=1e-4)
    assert task.score(task.samples()[0], pred)["perplexity"] == pytest.approx(math.exp(total / 126), rel=1e-4)


def test_paper_perplexity_is_the_released_rule_on_the_released_text(model) -> None:  # type: ignore[no-untyped-def]
    """protocol=paper against the rule written out here: the smoke lines as HF rows joined with
    a blank line, the tokenizer's default call, windows of the model's context, and
    exp(sum of window mean losses x L / (nsamples x L))."""
    task = make("perplexity", protocol="paper", max_windows=3)
    small = tiny_llama(context=48)
    pred = task.predict(small, task.samples(), batch_size=2)[0]
    lines = [line + "\n" for line in Path(task.source.location).read_text().split("\n")]
    rows = [line if line.strip() else "" for line in lines[:-1]]
    ids = small.tokenizer("\n\n".join(rows))["input_ids"]
    n, total = min(len(ids) // 48, 3), 0.0
    for i in range(n):
        x = torch.tensor([ids[i * 48 : (i + 1) * 48]])
        with torch.no_grad():
            logits = small.module(input_ids=x).logits[0, :-1].float()
        total += float(torch.nn.functional.cross_entropy(logits, x[0, 1:])) * 48
    assert n == 3 and pred.extra["seqlen"] == 48
    assert task.score(task.samples()[0], pred)["perplexity"] == pytest.approx(
        math.exp(total / (n * 48)), rel=1e-4
    )


def test_mt_bench_asks_the_second_turn_after_its_own_first_answer(model) -> None:  # type: ignore[no-untyped-def]
    task = make("mt-bench", limit=2, max_new_tokens=4)
    samples = task.samples()
    preds = task.predict(model, samples, batch_size=2)
    for s, p in zip(samples, preds, strict=True):
        assert len(s.turns) == 2 and len(p.answers) == 2
    a1 = preds[0].answers[0]
    again = model.generate([[samples[0].turns[0], a1, samples[0].turns[1]]], max_new_tokens=4, chat=True)
    assert preds[0].answers[1] == again[0].strip()


def _spec(tasks: tuple[ComponentSpec, ...]) -> RunSpec:
    return RunSpec(model=ModelSpec("tiny"), tasks=tasks, batch_size=2, limit=6, seed=0)


TASK_SPECS = (
    ComponentSpec("factoid-qa", {"max_new_tokens": 4}),
    ComponentSpec("mmlu", {"shots": 1}),
    ComponentSpec("icrqa-closed", {"max_new_tokens": 4}),
    ComponentSpec("icrqa-open", {"max_new_tokens": 4}),
    ComponentSpec("summarization", {"max_new_tokens": 4}),
    ComponentSpec("instruction-following", {"max_new_tokens": 4}),
    ComponentSpec("mt-bench", {"max_new_tokens": 4}),
    ComponentSpec("perplexity", {"seqlen": 64}),
)


def test_runner_round_trip_with_every_task(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    summary = run(_spec(TASK_SPECS), tmp_path / "run", model=model)
    tasks = summary["tasks"]
    assert set(tasks) == {t.name for t in TASK_SPECS}
    assert (
        tasks["mmlu"]["metrics"]["dense"]["n"] == 6 and 0.0 <= tasks["mmlu"]["metrics"]["dense"]["acc"] <= 1.0
    )
    assert tasks["factoid-qa"]["metrics"]["dense"]["errors"] == 0
    assert tasks["perplexity"]["metrics"]["dense"]["perplexity"] > 1.0
    assert tasks["summarization"]["settings"]["duplicates_removed"] == 1
    lines = (tmp_path / "run" / "records.jsonl").read_text().splitlines()
    mt = [json.loads(x) for x in lines if json.loads(x)["task"] == "mt-bench"]
    assert len(mt[0]["answers"]) == 2


def test_resume_after_half_the_records_gives_the_same_summary(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec = _spec((ComponentSpec("factoid-qa", {"max_new_tokens": 4}), ComponentSpec("mmlu", {"shots": 1})))
    out = tmp_path / "run"
    first = run(spec, out, model=model)
    records = out / "records.jsonl"
    lines = records.read_text().splitlines(keepends=True)
    records.write_text("".join(lines[: len(lines) // 2]))
    second = run(spec, out, mode="resume", model=model)
    assert len(records.read_text().splitlines()) == len(lines)
    for name in ("factoid-qa", "mmlu"):
        assert second["tasks"][name]["metrics"] == first["tasks"][name]["metrics"]
