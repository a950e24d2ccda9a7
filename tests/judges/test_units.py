"""Pure parts of judging: reply parsers (on real reply shapes), order combination, backoff,
Retry-After, redaction, cache keys, templates, and judge_metrics / merge_judgement."""

from __future__ import annotations

import email.utils
import json
from pathlib import Path

import pytest
from kick_judges import references, scoring, templates
from kick_judges.cache import ReplyCache, cache_key, resolve_cache_dir
from kick_judges.parsing import (
    ParseError,
    parse_criteria_lines,
    parse_pair_line,
    parse_pair_tuple,
    parse_rating,
    parse_reply,
)
from kick_judges.transport import (
    backoff_delay,
    is_local_url,
    public_url,
    redact,
    retry_after_seconds,
)

from kick import judging
from kick.types import Record

# ---- parsers: the shapes real GPT-4 reviews take in LLM-KICK's evaluation files ----------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("8 7", (8.0, 7.0)),
        ("8, 7", (8.0, 7.0)),
        ("(8, 7)", (8.0, 7.0)),
        ("8 7\nBoth assistants provided relevant, accurate answers.", (8.0, 7.0)),
        ("9 8\n\nAssistant 1:\nThe code provided by Assistant 1 is correct", (9.0, 8.0)),
        ("8.5/10 for Assistant 1, 9/10 for Assistant 2.\n\nAssistant 1:\nStrengths: ...", (8.5, 9.0)),
        ("9.5/10 for Assistant 1, 9/10 for Assistant 2\n\nBoth assistants ...", (9.5, 9.0)),
        ("  \n10 10\n", (10.0, 10.0)),
    ],
)
def test_pair_line_parser_reads_real_first_line_shapes(text: str, expected: tuple[float, float]) -> None:
    assert parse_pair_line(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "error",
        "Assistant 1 is better than Assistant 2.",
        "8\nthe second one gets 7",
        "11 7",
        "8 7 6",
    ],
)
def test_pair_line_parser_rejects_what_it_cannot_read(text: str) -> None:
    with pytest.raises(ParseError):
        parse_pair_line(text)


def test_math_tuple_parser_takes_the_last_tuple_of_a_worked_solution() -> None:
    reply = (
        "First, let's solve the problem independently:\n\nThe endpoints (2, -2) and (10, 4) ...\n"
        "Therefore, Assistant 1 receives a score of 10 ...\n\nSo, the output is (10, 1). Assistant 1 performed better."
    )
    assert parse_pair_tuple(reply) == (10.0, 1.0)
    assert parse_pair_tuple("The scores for Assistant 1 and Assistant 2 are (6, 6). Both ...") == (6.0, 6.0)


def test_math_tuple_parser_reads_labelled_score_lines() -> None:
    reply = (
        "Therefore, the scores are:\n\nAssistant 1: 10/10\nAssistant 2: 4/10\n\nAssistant 1 performed better"
    )
    assert parse_pair_tuple(reply) == (10.0, 4.0)


def test_math_tuple_parser_refuses_free_prose_scores() -> None:
    with pytest.raises(ParseError):
        parse_pair_tuple("I would give Assistant 1 a 6 and Assistant 2 a 5. Both assistants made mistakes.")


def test_criteria_parser_reads_four_score_lines_in_prompt_order() -> None:
    reply = "8 7\n8 7\n9 8\n8 7\nAssistant 1 and Assistant 2 both provided coherent summaries."
    assert parse_criteria_lines(reply) == {
        "coherence": (8.0, 7.0),
        "consistency": (8.0, 7.0),
        "fluency": (9.0, 8.0),
        "relevance": (8.0, 7.0),
    }


def test_criteria_parser_reads_labelled_lines_in_any_order() -> None:
    reply = "Fluency: 9 8\n**Coherence**: 8 7\nConsistent: 7, 7\n- Relevance: (6, 5)\nExplanation"
    assert parse_criteria_lines(reply) == {
        "coherence": (8.0, 7.0),
        "consistency": (7.0, 7.0),
        "fluency": (9.0, 8.0),
        "relevance": (6.0, 5.0),
    }


@pytest.mark.parametrize(
    "text",
    [
        "8 7\n8 7\n9 8",  # three lines only
        "8 7\n8 7\nThe summaries are fine.\n8 7",
        "Coherence: 8 7\nCoherence: 8 7\nFluency: 9 8\nRelevance: 8 7",
        "Coherence: 8 7\n8 7\n9 8\n8 7",
    ],
)
def test_criteria_parser_rejects_incomplete_or_ambiguous_replies(text: str) -> None:
    with pytest.raises(ParseError):
        parse_criteria_lines(text)


def test_rating_parser_reads_mt_bench_verdicts() -> None:
    assert parse_rating("The answer is helpful.\n\nRating: [[7]]") == 7.0
    assert parse_rating("Rating: [[8.5]]") == 8.5
    assert parse_rating("Rating: [6]") == 6.0
    with pytest.raises(ParseError):
        parse_rating("I rate it 7 out of 10.")
    with pytest.raises(ParseError):
        parse_rating("Rating: [[12]]")


def test_parsers_read_every_real_llm_kick_review_they_should(shared_data: Path) -> None:
    """Against the released GPT-4 reviews (if the shared data is present): every review whose
    original parser succeeded is read with the same scores, except those with a score off the
    1-10 scale (a 0), which are rejected; the paper's -1 sentinels are not read."""
    files = sorted(shared_data.glob("*/llm_kick_outputs_vicuna7b_dense/*_evaluation.jsonl"))
    assert len(files) == 6
    checked = rejected = 0
    for f in files:
        for line in f.read_text().splitlines():
            try:
                review = json.loads(line)
            except ValueError:
                continue  # the trailing "ChatGpt score: ..." summary line
            score = review["score"]
            values = [v for pair in score.values() for v in pair] if isinstance(score, dict) else score
            if score == [-1, -1]:
                continue
            parse = parse_criteria_lines if isinstance(score, dict) else parse_pair_line
            if not all(1 <= v <= 10 for v in values):
                with pytest.raises(ParseError, match="outside"):
                    parse(review["text"])
                rejected += 1
                continue
            got = parse(review["text"])
            if isinstance(score, dict):
                assert [got[c] for c in templates.SUMMARY_CRITERIA] == [tuple(v) for v in score.values()]
            else:
                assert got == tuple(score)
            checked += 1
    assert checked > 400 and rejected >= 1


def test_parse_reply_dispatches_on_the_template_format() -> None:
    assert parse_reply(templates.PAIR_LINE, "8 7") == {"overall": (8.0, 7.0)}
    assert parse_reply(templates.RATING, "[[3]]") == {"rating": (3.0,)}
    assert set(parse_reply(templates.CRITERIA_LINES, "1 2\n3 4\n5 6\n7 8")) == set(templates.SUMMARY_CRITERIA)


# ---- templates ---------------------------------------------------------------------------------


def test_templates_follow_the_item_kind_and_category() -> None:
    assert templates.pairwise_template("summarization", None) is templates.PAIR_SUMMARY
    assert templates.pairwise_template("instruction", "coding") is templates.PAIR_CODING
    assert templates.pairwise_template("instruction", "math") is templates.PAIR_MATH
    assert templates.pairwise_template("instruction", "writing") is templates.PAIR_GENERAL


def test_pairwise_messages_put_the_answers_in_the_requested_positions() -> None:
    tpl, msgs = templates.pairwise_messages("instruction", None, ["Q {x}?"], ["first"], ["second"])
    user = msgs[1]["content"]
    assert msgs[0]["role"] == "system" and "Q {x}?" in user  # braces in data are not format fields
    assert user.index("first") < user.index("second")
    assert "Assistant 1's Answer]\nfirst" in user
    assert "two values indicating the scores for Assistant 1" in user


def test_single_messages_use_reference_and_multi_turn_templates() -> None:
    tpl, _ = templates.single_messages(["q"], ["a"], turn=1, reference=None)
    assert tpl is templates.SINGLE_GENERAL
    tpl, msgs = templates.single_messages(["q"], ["a"], turn=1, reference=["ref"])
    assert tpl is templates.SINGLE_MATH and "[The Start of Reference Answer]\nref" in msgs[1]["content"]
    tpl, msgs = templates.single_messages(["q1", "q2"], ["a1", "a2"], turn=2, reference=None)
    assert tpl is templates.SINGLE_GENERAL_MT and "### User:\nq2" in msgs[1]["content"]
    tpl, _ = templates.single_messages(["q1", "q2"], ["a1", "a2"], turn=2, reference=["r1", "r2"])
    assert tpl is templates.SINGLE_MATH_MT


# ---- combining orders and turns ----------------------------------------------------------------


def test_orders_are_oriented_to_answer_and_reference() -> None:
    parsed = {"overall": (9.0, 4.0)}
    assert scoring.orient(parsed, scoring.ANSWER_FIRST) == {"overall": (9.0, 4.0)}
    assert scoring.orient(parsed, scoring.REFERENCE_FIRST) == {"overall": (4.0, 9.0)}


def test_combining_two_agreeing_orders_averages_and_is_consistent() -> None:
    got = scoring.combine_orders([{"overall": (9.0, 4.0)}, {"overall": (8.0, 5.0)}])
    assert got == {"overall": 8.5, "overall_ref": 4.5, "inconsistent": 0.0}


def test_position_bias_is_counted_as_inconsistent() -> None:
    # the judge always prefers Assistant 1: answer wins in one order, loses in the other
    first = scoring.orient({"overall": (9.0, 4.0)}, scoring.ANSWER_FIRST)
    second = scoring.orient({"overall": (9.0, 4.0)}, scoring.REFERENCE_FIRST)
    got = scoring.combine_orders([first, second])
    assert got == {"overall": 6.5, "overall_ref": 6.5, "inconsistent": 1.0}


def test_a_win_against_a_tie_is_inconsistent_and_one_order_has_no_flag() -> None:
    assert scoring.combine_orders([{"c": (8.0, 7.0)}, {"c": (7.0, 7.0)}])["inconsistent"] == 1.0
    assert "inconsistent" not in scoring.combine_orders([{"c": (8.0, 7.0)}])


def test_preference_sums_the_margins_over_criteria() -> None:
    assert scoring.preference({"a": (9.0, 5.0), "b": (5.0, 8.0)}) == 1
    assert scoring.preference({"a": (5.0, 5.0)}) == 0
    assert scoring.preference({"a": (4.0, 5.0)}) == -1


def test_turn_ratings_average_and_keep_each_turn() -> None:
    assert scoring.combine_turns({1: 8.0}) == {"rating": 8.0}
    assert scoring.combine_turns({1: 8.0, 2: 6.0}, "_ref") == {
        "rating_ref": 7.0,
        "rating_t1_ref": 8.0,
        "rating_t2_ref": 6.0,
    }


# ---- transport helpers --------------------------------------------------------------------------


def test_backoff_grows_exponentially_with_jitter_and_cap() -> None:
    assert backoff_delay(0, base=1.0, cap=60, retry_after=None, rand=lambda: 0.0) == 0.5
    assert backoff_delay(0, base=1.0, cap=60, retry_after=None, rand=lambda: 1.0) == 1.0
    assert backoff_delay(3, base=1.0, cap=60, retry_after=None, rand=lambda: 1.0) == 8.0
    assert backoff_delay(10, base=1.0, cap=5, retry_after=None, rand=lambda: 1.0) == 5.0


def test_backoff_honours_retry_after_up_to_the_cap() -> None:
    assert backoff_delay(0, base=1.0, cap=60, retry_after=7.0) == 7.0
    assert backoff_delay(0, base=1.0, cap=5, retry_after=7.0) == 5.0


def test_retry_after_reads_seconds_dates_and_milliseconds() -> None:
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"retry-after-ms": "250"}) == 0.25
    date = email.utils.formatdate(1_000_010, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=1_000_000) == pytest.approx(10.0)
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"Retry-After": "soon"}) is None


def test_redaction_and_public_urls_hide_credentials() -> None:
    assert redact("bad key sk-abc123 given", ["sk-abc123"]) == "bad key *** given"
    assert public_url("https://user:pw@api.example.com:8443/v1?key=x") == "https://api.example.com:8443/v1"
    assert is_local_url("http://127.0.0.1:8000/v1") and is_local_url("http://localhost/v1")
    assert not is_local_url("https://api.openai.com/v1")


# ---- cache --------------------------------------------------------------------------------------


def test_cache_key_depends_on_model_prompt_and_decoding() -> None:
    msgs = [{"role": "user", "content": "hi"}]
    base = cache_key("m", msgs, {"temperature": 0.0, "max_tokens": 8})
    assert base == cache_key("m", [dict(m) for m in msgs], {"max_tokens": 8, "temperature": 0.0})
    assert base != cache_key("m2", msgs, {"temperature": 0.0, "max_tokens": 8})
    assert base != cache_key("m", [{"role": "user", "content": "hi!"}], {"temperature": 0.0, "max_tokens": 8})
    assert base != cache_key("m", msgs, {"temperature": 0.2, "max_tokens": 8})


def test_cache_persists_on_disk_and_the_location_follows_the_precedence(tmp_path: Path) -> None:
    ReplyCache(tmp_path / "c").put("ab" * 32, {"reply": "8 7"})
    assert ReplyCache(tmp_path / "c").get("ab" * 32) == {"reply": "8 7"}
    assert ReplyCache(tmp_path / "c").get("cd" * 32) is None
    run = tmp_path / "run"
    assert resolve_cache_dir("/x", {"KICK_CACHE_DIR": "/y"}, run) == Path("/x")
    assert resolve_cache_dir("", {"KICK_CACHE_DIR": "/y"}, run) == Path("/y/judge")
    assert resolve_cache_dir("", {}, run) == run / "judge_cache"
    assert resolve_cache_dir("", {}, None) is None


# ---- kick.judging: merging and aggregation ------------------------------------------------------


def _rec(sid: str, scores: dict[str, float], **extra: object) -> Record:
    return Record("compressed", "t", sid, "p", "o", None, scores, extra=dict(extra))


def test_merge_keeps_scores_or_the_error_with_raw_replies_never_both() -> None:
    rec = _rec("a", {"length": 3.0, "judge.old": 1.0})
    ok = judging.merge_judgement(rec, {"overall": 8.0}, None, ["8 7"], {"usage": {"requests": 2}})
    assert ok.scores == {"length": 3.0, "judge.overall": 8.0}
    assert ok.extra["judge_raw"] == ["8 7"] and ok.extra["judge"] == {"usage": {"requests": 2}}
    bad = judging.merge_judgement(ok, {"overall": 8.0}, "does not parse", ["hmm"])
    assert bad.scores == {"length": 3.0}
    assert bad.extra["judge_error"] == "does not parse" and bad.extra["judge_raw"] == ["hmm"]
    assert "judge" not in bad.extra
    assert judging.is_judged(ok) and not judging.is_judged(bad)


def test_judge_metrics_report_ratios_and_counts() -> None:
    recs = [
        _rec("a", {"judge.overall": 6.0, "judge.overall_ref": 8.0, "judge.inconsistent": 0.0}),
        _rec(
            "b",
            {"judge.overall": 3.0, "judge.overall_ref": 4.0, "judge.inconsistent": 1.0},
            judge={"parse_retries": 1},
        ),
        _rec("c", {}, judge_error="does not parse", judge_raw=["?"]),
        _rec("d", {}),
    ]
    m = judging.judge_metrics(recs)
    assert m["judged"] == 2 and m["judge_failed"] == 1 and m["judge_inconsistent"] == 1
    assert m["judge_overall"] == 4.5 and m["judge_overall_ref"] == 6.0
    assert m["judge_overall_ratio"] == pytest.approx(9.0 / 12.0)
    assert m["judge_parse_retried"] == 1


def test_ratio_of_means_needs_pairs_and_a_positive_reference() -> None:
    assert judging.ratio_of_means([]) is None
    assert judging.ratio_of_means([(1.0, 0.0)]) is None
    assert judging.ratio_of_means([(4.0, 8.0), (2.0, 4.0)]) == 0.5


def test_reference_rows_read_fastchat_answer_and_mt_bench_reference_shapes() -> None:
    rows = [
        json.dumps({"question_id": 1, "answer_id": "x", "text": "Paris."}),
        "",
        json.dumps({"question_id": 101, "choices": [{"index": 0, "turns": ["a1", "a2"]}]}),
        json.dumps({"sample_id": "s3", "turns": ["t1"]}),
    ]
    assert references.parse_reference_rows(rows) == {"1": ["Paris."], "101": ["a1", "a2"], "s3": ["t1"]}


@pytest.mark.parametrize("line", ["{not json", json.dumps({"text": "no id"}), json.dumps({"id": 1})])
def test_a_malformed_reference_row_is_a_data_error_with_its_line(line: str) -> None:
    from kick.errors import DataError

    with pytest.raises(DataError, match="refs:1"):
        references.parse_reference_rows([line], "refs")


def test_a_missing_reference_file_is_a_data_error(tmp_path: Path) -> None:
    from kick.errors import DataError

    with pytest.raises(DataError, match="reference answers"):
        references.load_reference_file(tmp_path / "nope.jsonl")


def test_judge_input_comes_from_the_typed_turns_answers_and_category() -> None:
    from kick.types import Record, Sample

    sample = Sample("q1", "full prompt", None, turns=("turn one", "turn two"), category="math")
    rec = Record("compressed", "mt-bench", "q1", "full prompt", "a1\n\na2", None, {}, answers=("a1", "a2"))
    item = judging.judge_item("mt-bench", sample, rec, ["r1", "r2"])
    assert (item.question, item.answer, item.reference, item.category) == (
        ("turn one", "turn two"),
        ("a1", "a2"),
        ("r1", "r2"),
        "math",
    )
    plain = judging.judge_item("summarization", Sample("s", "Summarize: ..."), dataclasses_replace(rec), None)
    assert plain.question == ("Summarize: ...",) and plain.answer == ("a1", "a2") and plain.category is None
    single = judging.judge_item(
        "instruction", Sample("s", "Q?"), Record("dense", "t", "s", "Q?", "A.", None, {}), None
    )
    assert single.answer == ("A.",)
    again = Record.from_dict(json.loads(json.dumps({**rec.__dict__, "answers": list(rec.answers)})))
    assert again.answers == ("a1", "a2")


def dataclasses_replace(rec):  # type: ignore[no-untyped-def]
    import dataclasses

    return dataclasses.replace(rec)
