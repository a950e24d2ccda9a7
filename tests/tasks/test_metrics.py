"""Hand-made cases for every task metric (pure functions, no model)."""

from __future__ import annotations

import math

import pytest
from kick_tasks.factoid import score_answer
from kick_tasks.icrqa import score_answer as qa_score
from kick_tasks.metrics import (
    alias_contained,
    distinct_n,
    exact_match,
    normalize_answer,
    paper_contains_prompt,
    perplexity_from_nll,
    token_f1,
    words,
)
from kick_tasks.mmlu import letter_from_generation, letter_from_logprobs
from kick_tasks.summarization import rouge_l


def test_normalization_drops_case_punctuation_and_articles() -> None:
    assert normalize_answer("  The Eiffel-Tower!  ") == "eiffel tower"
    assert normalize_answer("An apple, a PEAR.") == "apple pear"


def test_exact_match_ignores_articles_and_punctuation() -> None:
    assert exact_match("the Pacific Ocean.", ["Pacific Ocean"]) == 1.0
    assert exact_match("Pacific", ["Pacific Ocean"]) == 0.0


def test_empty_prediction_scores_zero_everywhere() -> None:
    assert exact_match("", ["a"]) == 0.0  # "a" normalizes to "" as well: still 0
    assert exact_match("  ", ["Paris"]) == 0.0
    assert token_f1("", ["Paris"]) == 0.0
    assert alias_contained("", ["Paris"]) == 0.0
    assert qa_score("", ["Paris"]) == {"em": 0.0, "f1": 0.0, "contains": 0.0}


def test_token_f1_gives_partial_credit_and_takes_max_over_aliases() -> None:
    # pred tokens: [george, washington, carver]; gold [george, washington] -> P=2/3, R=1, F1=0.8
    assert token_f1("George Washington Carver", ["George Washington"]) == pytest.approx(0.8)
    assert token_f1("George Washington Carver", ["Carver", "George Washington Carver"]) == 1.0
    assert token_f1("blue", ["red"]) == 0.0


def test_alias_contained_matches_whole_words_only() -> None:
    assert alias_contained("It is 8 legs.", ["8"]) == 1.0
    assert alias_contained("18 legs", ["8"]) == 0.0
    assert alias_contained("I think the answer is New York City", ["new york"]) == 1.0


def test_alias_only_in_question_scores_zero_for_kick_but_one_for_paper_metric() -> None:
    prompt = "Please give answer to this question: Is the capital of France Paris or Lyon?\nThe answer is "
    scores = score_answer(prompt, "I do not know", ["Paris"])
    assert scores == {"em": 0.0, "contains": 0.0, "paper_contains_prompt": 1.0}


def test_paper_metric_removes_spaces_and_lowercases_and_matches_substrings() -> None:
    assert paper_contains_prompt("Q: x\nA: ", "NewYork", ["new york"]) == 1.0
    assert paper_contains_prompt("", "solar", ["Sol"]) == 1.0  # substring: the paper's inflation
    assert paper_contains_prompt("", "no", ["Paris"]) == 0.0


def test_factoid_answer_is_cut_at_first_newline() -> None:
    assert score_answer("p", "Rome\nParis", ["Paris"])["contains"] == 0.0
    assert score_answer("p", "Paris\nRome", ["Paris"])["em"] == 1.0


def test_mmlu_letter_rules() -> None:
    assert letter_from_logprobs([-3.0, -1.0, -2.0, -5.0]) == "B"
    assert letter_from_generation(" C") == "C"
    assert letter_from_generation("") == ""


def test_distinct_n_counts_unique_ngrams() -> None:
    toks = words("the cat the cat sat")
    assert toks == ["the", "cat", "the", "cat", "sat"]
    assert distinct_n(toks, 1) == pytest.approx(3 / 5)
    assert distinct_n(toks, 2) == pytest.approx(3 / 4)  # the-cat, cat-the, cat-sat
    assert distinct_n([], 2) == 0.0


def test_perplexity_is_exp_of_mean_nll() -> None:
    assert perplexity_from_nll(0.0, 10) == 1.0
    assert perplexity_from_nll(10 * math.log(4), 10) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        perplexity_from_nll(1.0, 0)


def test_rouge_l_against_highlights() -> None:
    assert rouge_l("the cat sat on the mat", ["the cat sat on the mat"]) == pytest.approx(1.0)
    assert rouge_l("", ["the cat"]) == 0.0
    assert 0.0 < rouge_l("a cat sat", ["the cat sat on the mat"]) < 1.0


def test_closed_open_gain_is_computed_per_question() -> None:
    from kick_tasks.icrqa import closed_open_gain

    from kick.types import Record

    def rec(task: str, qid: str, f1: float) -> Record:
        return Record("dense", task, qid, "", "", None, {"f1": f1})

    closed = [rec("icrqa-closed", "a", 0.0), rec("icrqa-closed", "b", 1.0), rec("icrqa-closed", "c", 0.5)]
    open_ = [rec("icrqa-open", "a", 1.0), rec("icrqa-open", "b", 0.5), rec("icrqa-open", "d", 1.0)]
    gain = closed_open_gain(closed, open_)
    assert gain["per_question"] == {"a": 1.0, "b": -0.5}
    assert gain["n"] == 2 and gain["helped"] == 1 and gain["hurt"] == 1
    assert gain["mean_gain"] == pytest.approx(0.25)


def test_rates_where_more_is_worse_are_declared_lower_is_better() -> None:
    from kick.plugins import load_plugins

    reg = load_plugins().registry
    assert {"empty_rate", "truncation_rate"} <= set(reg.create("task", "icrqa-open").lower_is_better)
    assert "overflow_rate" in reg.create("task", "summarization").lower_is_better
    for name in ("instruction-following", "mt-bench"):
        assert "empty_rate" in reg.create("task", name).lower_is_better
    assert "perplexity" in reg.create("task", "perplexity").lower_is_better
