"""What judged tasks report (issue 13, section 4): scores on the 1-10 scale only, FastChat's
"inconsistent = tie" rule, a task's own judge settings (`protocol=paper`: one order, the released
temperature), `judge_score` as the headline metric, and dense judged against the data's reference
answers so that dense / reference, compressed / reference and the paired comparison all appear."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kick_judges.judges import make_pairwise
from kick_judges.parsing import ParseError, parse_criteria_lines, parse_pair_line, parse_rating
from kick_judges.scoring import apply_inconsistent_rule
from support.fake_plugin import load_fake_model
from support.openai_server import FakeOpenAIServer, Reply

from kick.errors import SpecError
from kick.judging import PREFIX, judge_for_task, judge_metrics
from kick.plugins import PluginSet
from kick.runner import run
from kick.types import ComponentSpec, JudgeItem, ModelSpec, Record, RunSpec

KEY_ENV = "KICK_TEST_JUDGE_KEY"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "sk-test-protocol")
    monkeypatch.delenv("KICK_CACHE_DIR", raising=False)


def _params(server: FakeOpenAIServer, **kw: Any) -> dict[str, Any]:
    return {"base_url": server.url, "api_key_env": KEY_ENV, "model": "judge-model", "backoff_s": 0.01,
            "timeout_s": 5.0, "cache": False, **kw}  # fmt: skip


ITEM = JudgeItem("s1", "instruction", ("Question?",), ("GOOD answer",), ("BAD reference",))


def test_scores_off_the_1_to_10_scale_do_not_parse() -> None:
    assert parse_pair_line("1 10") == (1.0, 10.0)
    for reply in ("0 7", "7 0", "11 3", "10.5 9"):
        with pytest.raises(ParseError, match="outside"):
            parse_pair_line(reply)
    with pytest.raises(ParseError, match="outside"):
        parse_criteria_lines("10 0\n10 0\n10 0\n10 0")  # what GPT-4 answered for 8 released reviews
    with pytest.raises(ParseError, match="outside"):
        parse_rating("Rating: [[0]]")


def test_the_fastchat_rule_makes_an_inconsistent_item_a_tie() -> None:
    scores = {"overall": 7.0, "overall_ref": 5.0, "inconsistent": 1.0}
    assert apply_inconsistent_rule(scores, "tie") == {"overall": 6.0, "overall_ref": 6.0, "inconsistent": 1.0}
    assert apply_inconsistent_rule(scores, "average") == scores
    consistent = {"overall": 7.0, "overall_ref": 5.0, "inconsistent": 0.0}
    assert apply_inconsistent_rule(consistent, "tie") == consistent
    with FakeOpenAIServer(lambda r, n: Reply(content="9 5" if n == 1 else "6 4")) as server:
        [v] = make_pairwise(**_params(server, inconsistent="tie", concurrency=1)).judge([ITEM])
    # answer-first: answer 9, ref 5; reference-first: ref 6, answer 4 -> orders disagree
    assert v.scores["inconsistent"] == 1.0 and v.scores["overall"] == v.scores["overall_ref"] == 6.0
    assert v.extra["inconsistent_rule"] == "tie"
    with pytest.raises(SpecError, match="inconsistent"):
        make_pairwise(**_params(server, inconsistent="drop"))


def test_a_task_sets_its_judge_settings_and_the_judge_keeps_its_own() -> None:
    with FakeOpenAIServer(lambda r, n: Reply(content="8 6")) as server:
        judge = make_pairwise(**_params(server))

        class PaperTask:
            name = "paper-task"
            judge_overrides = {"swap": False, "temperature": 0.1, "max_tokens": 1024}

        paper = judge_for_task(judge, PaperTask())  # type: ignore[arg-type]
        [v] = paper.judge([ITEM])
        assert server.count == 1 and "inconsistent" not in v.scores
        sent = server.requests[0]
        assert sent["temperature"] == 0.1 and sent["max_tokens"] == 1024
        user = sent["messages"][1]["content"]
        assert user.index("BAD reference") < user.index("GOOD answer")  # the reference first
        assert v.scores == {"overall": 6.0, "overall_ref": 8.0}
        judge.judge([ITEM])  # the judge itself is unchanged: both orders at its temperature
        assert server.count == 3 and server.requests[1]["temperature"] == 0.0
        assert judge.info()["stats"]["items"] == 2  # the counts are shared
        with pytest.raises(SpecError, match="cannot override"):
            judge.with_overrides({"model": "other"})

    class Plain:
        name = "plain"

        def judge(self, items: Any) -> list[Any]:
            return []

    with pytest.raises(SpecError, match="cannot apply"):
        judge_for_task(Plain(), PaperTask())  # type: ignore[arg-type]
    assert judge_for_task(Plain(), type("T", (), {"name": "t"})()) is not None  # type: ignore[arg-type]


def _rec(sid: str, **scores: float) -> Record:
    return Record("compressed", "t", sid, "", "", None, {PREFIX + k: v for k, v in scores.items()})


def test_judge_score_is_the_mean_over_criteria_and_its_ratio_the_papers() -> None:
    recs = [
        _rec("a", coherence=8, coherence_ref=8, fluency=6, fluency_ref=8),
        _rec("b", coherence=4, coherence_ref=6, fluency=4, fluency_ref=6),
    ]
    m = judge_metrics(recs)
    assert m["judge_score"] == pytest.approx(5.5) and m["judge_score_ref"] == pytest.approx(7.0)
    assert m["judge_score_ratio"] == pytest.approx(5.5 / 7.0)
    assert m["judge_coherence"] == 6.0


def test_dense_is_judged_against_the_data_references_and_compared(
    tmp_path: Path, builtin_plugins: PluginSet
) -> None:
    from support.openai_server import quality_reply

    with FakeOpenAIServer(quality_reply) as server:
        spec = RunSpec(
            model=ModelSpec("fake-model"),
            tasks=(ComponentSpec("fake-instruct", {"n": 4, "with_reference": True}),),
            compression=ComponentSpec("fake-prune"),
            judge=ComponentSpec("pairwise", _params(server)),
        )
        summary = run(spec, tmp_path / "run", plugins=builtin_plugins, model=load_fake_model())
    entry = summary["tasks"]["fake-instruct"]
    dense, comp = entry["metrics"]["dense"], entry["metrics"]["compressed"]
    assert dense["judge_score"] == 9.0 and comp["judge_score"] == 4.0
    assert dense["judge_score_ratio"] == pytest.approx(9 / 6) and comp["judge_score_ratio"] == pytest.approx(
        4 / 6
    )
    cmp = entry["comparison"]["judge_score"]
    assert cmp["delta"] == -5.0 and cmp["verdict"] == "worse" and cmp.get("interval") is not None
