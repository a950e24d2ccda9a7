"""`protocol=paper` (the released LLM-KICK code's behaviour) versus `protocol=kick`, the decoding
parameters of the generating tasks, `chat_template`, prompts that never lose their start, and the
per-question closed- vs open-book gain. A recording backend (no torch) unless marked."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from kick_tasks.chat import VICUNA_SYSTEM, ChatFormat, vicuna_v11
from kick_tasks.factoid import paper_new_tokens, score_paper
from kick_tasks.icrqa import paper_answer
from kick_tasks.icrqa import score_paper as icrqa_paper
from kick_tasks.metrics import paper_freebase_match, paper_icrqa_em, paper_icrqa_f1, triviaqa_normalize
from kick_tasks.perplexity import paper_text

from kick import DataError, SpecError
from kick.plugins import load_plugins
from kick.types import Record


def make(name: str, **params: Any) -> Any:
    return load_plugins().registry.create("task", name, **params)


class Recorder:
    """A backend that records every generate call; words are its tokens."""

    name = "recorder"

    def __init__(self, answer: Callable[[str], str] = lambda p: "Paris", context: int = 4096) -> None:
        self.answer = answer
        self.context_length = context
        self.calls: list[tuple[list[Any], dict[str, Any]]] = []

    def info(self) -> dict[str, Any]:
        return {}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def encode(self, text: str) -> list[int]:
        return list(range(len(text.split())))

    def truncate(self, text: str, n: int) -> str:
        return " ".join(text.split()[: max(0, n)])

    def generate(self, prompts: Sequence[Any], **kw: Any) -> list[str]:
        self.calls.append((list(prompts), kw))
        return [self.answer(p if isinstance(p, str) else p[-1]) for p in prompts]


def records(task: Any, model: Any) -> list[Record]:
    samples = task.samples()
    preds = task.predict(model, samples, batch_size=4)
    return [
        Record("dense", task.name, s.id, s.prompt, p.output, s.reference, task.score(s, p), p.error, p.extra)
        for s, p in zip(samples, preds, strict=True)
    ]


# ---- factoid-qa --------------------------------------------------------------------------------


def test_paper_freebase_rule_is_the_released_one() -> None:
    prompt = "Please give answer to this question: Which city is Paris the capital of?\nThe answer is "
    # an alias in the question counts; the whole generation counts, past its first line
    assert score_paper(prompt, "I do not know", ["Paris"], ["Paris"])["paper_match"] == 1.0
    got = score_paper("Q ", "not sure\nLondon Town", ["London Town"], ["london town"])
    assert got == {"paper_match": 1.0, "em": 0.0, "contains": 0.0}
    # only the first parse's aliases count for paper_match; kick's metrics take every alias
    got = score_paper("Q ", "Lyon", ["Paris", "Lyon"], ["Paris"])
    assert got["paper_match"] == 0.0 and got["em"] == 1.0
    assert paper_freebase_match("anything", ["  "]) == 1.0  # an empty alias matches, as released
    assert paper_freebase_match("The Answer is NewYork", ["new york"]) == 1.0
    assert paper_new_tokens(10, 2048) == 20 and paper_new_tokens(1000, 2048) == 1048


def test_factoid_paper_takes_the_first_items_and_three_times_the_prompt() -> None:
    smoke = json.loads(
        (Path(load_plugins().registry.create("task", "factoid-qa").source.location)).read_text()
    )
    first = [q["Question-ID"] for q in smoke["Questions"][:3]]
    task = make("factoid-qa", protocol="paper", limit=3)
    assert [s.id for s in task.samples()] == first
    assert (
        task.samples()[0].meta["first_parse_answers"]
        == smoke["Questions"][0]["Parses"][0]["Answers"][0]["AnswersName"]
    )
    model = Recorder(lambda p: " Paris\nand more")
    preds = task.predict(model, task.samples(), batch_size=4)
    for prompts, kw in model.calls:
        assert not kw.get("stop_at_newline") and kw["do_sample"] is False
        assert all(kw["max_new_tokens"] == 2 * model.count_tokens(p) for p in prompts)
    assert preds[0].output == " Paris\nand more"  # the whole generation is kept
    settings = task.settings()
    assert settings["protocol"] == "paper" and task.primary_metric == "paper_match"
    kick = make("factoid-qa", limit=3)
    kick.predict(model, kick.samples(), batch_size=4)
    assert model.calls[-1][1]["stop_at_newline"] and model.calls[-1][1]["max_new_tokens"] == 24
    assert kick.settings()["protocol"] == "kick"


def test_bad_protocol_parameters_are_refused() -> None:
    with pytest.raises(SpecError, match="max_length"):
        make("factoid-qa", protocol="paper", max_new_tokens=10)
    with pytest.raises(SpecError, match="protocol"):
        make("icrqa-open", protocol="released")
    with pytest.raises(SpecError, match="not in the paper"):
        make("mt-bench", protocol="paper")
    with pytest.raises(SpecError, match="temperature"):
        make("summarization", temperature=0)
    with pytest.raises(SpecError, match="chat_template"):
        make("instruction-following", chat_template="/no/such/template.jinja")


# ---- icrqa -------------------------------------------------------------------------------------


def test_paper_icrqa_metrics_are_two_way_containment() -> None:
    assert paper_icrqa_em("", ["Paris"]) == 1.0  # an empty answer "contains" nothing, and is contained
    assert paper_icrqa_em("the city of Paris", ["Paris"]) == 1.0
    assert paper_icrqa_em("Lyon", ["Paris"]) == 0.0
    assert triviaqa_normalize("New_York“") == "new york“"  # its own punctuation set
    assert paper_icrqa_f1("Paris France", ["Paris"]) == pytest.approx(2 / 3)
    assert paper_answer("\n  Paris \nLondon") == "Paris "  # stripped first, then the first line
    got = icrqa_paper("\nParis", ["Paris"])
    assert got["paper_em"] == 1.0 and got["em"] == 1.0


def _triviaqa(tmp_path: Path) -> Path:
    wiki, web = "w" * 3000 + " wiki-end", "web evidence text"
    row = {
        "question": "Which city is the capital of France?",
        "question_id": "tqa-1",
        "answer": {"value": "Paris", "aliases": ["Paris", "City of Light"]},
        "entity_pages": {"wiki_context": [wiki]},
        "search_results": {"search_context": [web]},
    }
    path = tmp_path / "rc.jsonl"
    path.write_text(json.dumps(row) + "\n")
    return path


def test_icrqa_paper_joins_evidence_with_nothing_and_cuts_3072_chars(tmp_path: Path) -> None:
    data = str(_triviaqa(tmp_path))
    [paper] = make("icrqa-open", protocol="paper", data=data).samples()
    joined = "w" * 3000 + " wiki-end" + "web evidence text"
    assert paper.meta["context"] == joined[:3072]
    assert (
        paper.prompt
        == f"{joined[:3072]}\n\nBased on these texts, answer these questions:\n\nQ: Which city is the capital of France?\nA:"
    )
    [kick] = make("icrqa-open", data=data).samples()
    assert kick.meta["context"] == "w" * 3000 + " wiki-end\nweb evidence text"
    [closed] = make("icrqa-closed", protocol="paper", data=data).samples()
    assert closed.prompt == "Answer these questions:\n\nQ: Which city is the capital of France?\nA:"
    model = Recorder(lambda p: "\nParis\n")
    task = make("icrqa-open", protocol="paper", data=data)
    [rec] = records(task, model)
    assert all(not kw["stop_at_newline"] and kw["max_new_tokens"] == 32 for _, kw in model.calls)
    assert rec.scores["paper_em"] == 1.0 and rec.scores["em"] == 1.0
    assert task.settings()["protocol"] == "paper"


def test_icrqa_open_reports_the_per_question_closed_open_gain() -> None:
    task = make("icrqa-open", limit=6)
    alias = {s.meta["question"]: s.reference[0] for s in task.samples()}

    def answer(prompt: str) -> str:
        question = prompt.rsplit("Q: ", 1)[1].rsplit("\nA:", 1)[0]
        return alias[question] if "Based on these texts" in prompt else "no idea"

    recs = records(task, Recorder(answer))
    assert all(r.scores["closed_open_gain"] == 1.0 and r.scores["closed_f1"] == 0.0 for r in recs)
    agg = task.aggregate(recs)
    assert agg["closed_open_gain"] == 1.0 and agg["gain_helped"] == 1.0 and agg["gain_hurt"] == 0.0
    assert all(r.extra["closed_output"] == "no idea" for r in recs)
    off = make("icrqa-open", limit=6, closed_open_gain=False)
    assert "closed_open_gain" not in off.aggregate(records(off, Recorder(answer)))


# ---- summarization and instruction-following ------------------------------------------------------


def test_summarization_paper_prompt_decoding_and_judge() -> None:
    task = make("summarization", protocol="paper")
    samples = task.samples()
    for s in samples:
        word = "story" if s.meta["bucket"] == "small" else "news"
        assert s.prompt.startswith(f"Summarize the given {word} in less than 150 words")
        assert "@highlight" in s.prompt and "\n" not in s.prompt.split("\n\n", 1)[1]
    assert {s.meta["bucket"] for s in samples} >= {"small", "mid"}
    model = Recorder(lambda p: "A summary.")
    task.predict(model, samples[:2], batch_size=2)
    kw = model.calls[0][1]
    assert kw["do_sample"] is True and kw["temperature"] == 0.7 and kw["max_new_tokens"] == 1024
    assert kw["chat"] is True
    assert task.judge_overrides == {"swap": False, "temperature": 0.1, "max_tokens": 1024}
    settings = task.settings()
    assert settings["protocol"] == "paper" and settings["decoding"]["temperature"] == 0.7
    kick = make("summarization")
    assert kick.judge_overrides is None and "@highlight" not in kick.samples()[0].prompt
    assert kick.primary_metric == "judge_score"


def test_decoding_parameters_reach_the_backend() -> None:
    task = make("instruction-following", do_sample=True, temperature=0.3, max_new_tokens=7, seed=5, limit=2)
    model = Recorder()
    task.predict(model, task.samples(), batch_size=2)
    kw = model.calls[0][1]
    assert (kw["do_sample"], kw["temperature"], kw["max_new_tokens"], kw["seed"]) == (True, 0.3, 7, 5)
    paper = make("instruction-following", protocol="paper", max_new_tokens=64)
    assert paper.decoding.max_new_tokens == 64 and paper.decoding.do_sample is True
    assert paper.judge_overrides == {"swap": False, "temperature": 0.2, "max_tokens": 1024}


def test_vicuna_template_renders_the_fastchat_conversation() -> None:
    assert vicuna_v11(["Hi?"]) == VICUNA_SYSTEM + " USER: Hi? ASSISTANT:"
    assert (
        vicuna_v11(["Hi?", "Hello.", "Bye?"])
        == VICUNA_SYSTEM + " USER: Hi? ASSISTANT: Hello.</s>USER: Bye? ASSISTANT:"
    )
    task = make("instruction-following", chat_template="vicuna_v1.1", limit=1)
    model = Recorder()
    task.predict(model, task.samples(), batch_size=1)
    [prompt], kw = model.calls[0][0], model.calls[0][1]
    assert prompt == vicuna_v11([task.samples()[0].prompt]) and not kw.get("chat")
    assert task.settings()["chat_template"] == {"name": "vicuna_v1.1"}


def test_a_template_file_is_rendered_with_jinja(tmp_path: Path) -> None:
    path = tmp_path / "t.jinja"
    path.write_text("{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}\n{% endfor %}<assistant>")
    fmt = ChatFormat.parse(str(path))
    assert fmt.render(Recorder(), ["Q1", "A1", "Q2"]) == "<user>Q1\n<assistant>A1\n<user>Q2\n<assistant>"
    assert fmt.as_dict()["file"] == str(path) and len(fmt.as_dict()["sha256"]) == 64
    path.write_text("{% for m in messages %}")
    with pytest.raises(SpecError, match="cannot render"):
        ChatFormat.parse(str(path)).render(Recorder(), ["Q"])


def test_an_instruction_that_does_not_fit_is_an_error_not_cut() -> None:
    task = make("instruction-following", chat_template="vicuna_v1.1", max_new_tokens=16, limit=3)
    samples = task.samples()
    n = Recorder().count_tokens(vicuna_v11([samples[0].prompt]))
    model = Recorder(context=n + 16)  # the first fits exactly
    preds = task.predict(model, samples, batch_size=3)
    long = [
        p for s, p in zip(samples, preds, strict=True) if Recorder().count_tokens(vicuna_v11([s.prompt])) > n
    ]
    assert preds[0].error is None
    assert long and all(p.error and "does not fit" in p.error for p in long)
    assert len(model.calls[0][0]) == 3 - len(long)


def test_summarization_overflow_cuts_the_story_and_keeps_the_instruction() -> None:
    task = make("summarization", chat_template="vicuna_v1.1", max_new_tokens=16, limit=3)
    model = Recorder(context=120)
    for s in task.samples():
        prompt, cut = task.fit(model, s)
        assert prompt.startswith("Summarize the given story")
        assert model.count_tokens(vicuna_v11([prompt])) <= 120 - 16
        assert cut == (model.count_tokens(vicuna_v11([s.prompt])) > 120 - 16)


def test_instruction_following_defaults_to_the_datas_reference_answers(tmp_path: Path) -> None:
    folder = tmp_path / "vicuna"
    folder.mkdir()
    qs = [{"question_id": i, "text": f"Question {i}?", "category": "generic"} for i in (1, 2)]
    (folder / "question.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qs))
    answers = [
        {"question_id": i, "text": f"Reference {i}.", "answer_id": "x", "model_id": "gpt-3.5-turbo"}
        for i in (1, 2)
    ]
    (folder / "answer_gpt-3.5-turbo.jsonl").write_text("".join(json.dumps(a) + "\n" for a in answers))
    task = make("instruction-following", data=str(folder))
    assert [s.reference for s in task.samples()] == ["Reference 1.", "Reference 2."]
    assert task.settings()["reference"]["kind"] == "the data's reference answers"
    dense = make("instruction-following", data=str(folder), reference="dense")
    assert all(s.reference is None for s in dense.samples())
    (folder / "answer_gpt-3.5-turbo.jsonl").unlink()
    fallback = make("instruction-following", data=str(folder))
    assert all(s.reference is None for s in fallback.samples())
    with pytest.raises(DataError, match="no reference answers"):
        make("instruction-following", data=str(folder), reference="data").samples()


# ---- perplexity --------------------------------------------------------------------------------


def test_paper_wikitext_text_is_the_hf_rows_joined_with_blank_lines() -> None:
    lines = [" = Title = \n", " \n", " First line .\n", "\n", " Second .\n"]
    assert paper_text(lines) == " = Title = \n\n\n\n\n First line .\n\n\n\n\n Second .\n"
    assert paper_text([" a\n", " b\n"]) == " a\n\n\n b\n"


def test_perplexity_paper_uses_the_model_context_and_records_the_protocol() -> None:
    class Scorer(Recorder):
        def token_nll(self, wins: Sequence[Sequence[int]], batch_size: int = 8) -> list[tuple[float, int]]:
            self.windows = [len(w) for w in wins]
            return [(float(len(w) - 1), len(w) - 1) for w in wins]

    paper = make("perplexity", protocol="paper", max_windows=2)
    model = Scorer(context=64)
    [pred] = paper.predict(model, paper.samples(), batch_size=1)
    assert model.windows == [64, 64] and pred.extra["seqlen"] == 64
    assert paper.settings()["protocol"] == "paper" and "\\n\\n" in paper.settings()["text"]
    kick = make("perplexity", max_windows=1)
    [pred] = kick.predict(Scorer(context=4096), kick.samples(), batch_size=1)
    assert pred.extra["seqlen"] == 512
    assert paper.text() != kick.text() and paper.text().count("\n\n") > kick.text().count("\n\n")


# ---- against the released files ---------------------------------------------------------------


def test_paper_summarization_prompts_are_the_released_questions(shared_data: Path) -> None:
    """Every `protocol=paper` prompt is byte-identical to a question of the released
    `new_question.jsonl` of its bucket (all 90, the duplicated stories included)."""
    released = {}
    for line in (shared_data / "cnn_dm_summarization" / "new_question.jsonl").read_text().splitlines():
        q = json.loads(line)
        released[q["text"]] = q["category"]
    samples = make("summarization", protocol="paper", data="shared").samples()
    assert len(samples) == 90
    assert all(released.get(s.prompt) == s.meta["bucket"] for s in samples)


def test_instruction_following_takes_the_shared_gpt35_answers(shared_data: Path) -> None:
    task = make("instruction-following", data="shared")
    samples = task.samples()
    assert len(samples) == 80 and all(isinstance(s.reference, str) and s.reference for s in samples)
    assert task.settings()["reference"]["location"].endswith("answer_gpt-3.5-turbo.jsonl")
