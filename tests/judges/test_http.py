"""The openai-backed judges against a real local HTTP server of our own (stdlib, 127.0.0.1):
rate limits with Retry-After, 5xx, malformed JSON, hangs, closed ports, every reply format,
the cache, the request budget, both orders, and whole runs judged inline and with `kick judge`.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from kick_judges.judges import make_pairwise, make_single
from support.fake_plugin import load_fake_model
from support.openai_server import FakeOpenAIServer, Reply, quality_reply, scripted

from kick.errors import SpecError
from kick.plugins import PluginSet
from kick.runner import rejudge, run
from kick.types import ComponentSpec, JudgeItem, ModelSpec, RunSpec

KEY_ENV = "KICK_TEST_JUDGE_KEY"
KEY = "sk-kick-test-ZQX7-distinctive-key-0042"
FAST = {"backoff_s": 0.01, "max_backoff_s": 0.5, "timeout_s": 5.0, "model": "judge-model"}


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("KICK_CACHE_DIR", raising=False)


def _params(server: FakeOpenAIServer, **kw: Any) -> dict[str, Any]:
    return {"base_url": server.url, "api_key_env": KEY_ENV, **FAST, **kw}


def _item(sid: str = "s1", kind: str = "instruction", category: str | None = None) -> JudgeItem:
    return JudgeItem(sid, kind, (f"Question {sid}?",), ("GOOD answer",), ("BAD reference",), category)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---- replies and formats -------------------------------------------------------------------------


def test_both_orders_are_judged_and_combined(openai_server: FakeOpenAIServer) -> None:
    judge = make_pairwise(**_params(openai_server))
    [v] = judge.judge([_item()])
    assert v.error is None
    assert v.scores == {"overall": 9.0, "overall_ref": 4.0, "inconsistent": 0.0}
    assert openai_server.count == 2
    users = [r["messages"][1]["content"] for r in openai_server.requests]
    assert sum(u.index("GOOD") < u.index("BAD") for u in users) == 1  # one prompt each way round
    assert all(a == f"Bearer {KEY}" for a in openai_server.auth)
    assert [o["order"] for o in v.extra["orders"]] == ["answer-first", "reference-first"]
    assert v.extra["usage"] == {"requests": 2, "cached": 0, "prompt_tokens": 200, "completion_tokens": 20}
    assert v.extra["replies"][0] == {
        "slot": "answer-first", "attempt": 1, "cached": False, "prompt_tokens": 100, "completion_tokens": 10,
    }  # fmt: skip


def test_a_position_biased_judge_is_flagged_inconsistent() -> None:
    with FakeOpenAIServer(lambda r, n: Reply(content="9 4")) as server:
        [v] = make_pairwise(**_params(server)).judge([_item()])
    assert v.scores == {"overall": 6.5, "overall_ref": 6.5, "inconsistent": 1.0}


def test_swap_off_asks_once_in_the_papers_order(openai_server: FakeOpenAIServer) -> None:
    [v] = make_pairwise(**_params(openai_server, swap=False)).judge([_item()])
    assert openai_server.count == 1 and "inconsistent" not in v.scores
    user = openai_server.requests[0]["messages"][1]["content"]
    assert user.index("BAD reference") < user.index("GOOD answer")


@pytest.mark.parametrize(
    "content, expected",
    [
        ("8 7", 8.0),
        ("8, 7", 8.0),
        ("(8, 7)", 8.0),
        ("8.5/10 for Assistant 1, 7/10 for Assistant 2. Assistant 1 ...", 8.5),
    ],
)
def test_every_pair_reply_shape_is_read(content: str, expected: float) -> None:
    with FakeOpenAIServer(lambda r, n: Reply(content=content)) as server:
        [v] = make_pairwise(**_params(server, swap=False)).judge([_item()])
    # swap off: the reference is Assistant 1, so the answer's score is the second value
    assert v.error is None and v.scores["overall_ref"] == expected


def test_summaries_get_four_criteria_and_math_a_tuple(openai_server: FakeOpenAIServer) -> None:
    judge = make_pairwise(**_params(openai_server))
    summ, math = judge.judge([_item("a", "summarization"), _item("b", "instruction", "math")])
    assert summ.scores["coherence"] == 9.0 and summ.scores["relevance_ref"] == 4.0
    assert set(summ.scores) == {
        f"{c}{s}" for c in ("coherence", "consistency", "fluency", "relevance") for s in ("", "_ref")
    } | {"inconsistent"}
    assert math.scores == {"overall": 9.0, "overall_ref": 4.0, "inconsistent": 0.0}
    assert math.extra["templates"] == ["llm-kick-math"]


def test_single_grading_rates_answer_and_reference_by_turn(openai_server: FakeOpenAIServer) -> None:
    item = JudgeItem(
        "m1", "mt-bench", ("Q1", "Q2"), ("GOOD one", "GOOD two"), ("BAD r1", "BAD r2"), "writing"
    )
    [v] = make_single(**_params(openai_server)).judge([item])
    assert v.error is None
    assert v.scores == {
        "rating": 8.0, "rating_t1": 8.0, "rating_t2": 8.0,
        "rating_ref": 3.0, "rating_t1_ref": 3.0, "rating_t2_ref": 3.0,
    }  # fmt: skip
    systems = [r["messages"][0]["content"] for r in openai_server.requests]
    assert sum("second user question" in s for s in systems) == 2  # turn 2: multi-turn template


def test_pairwise_judges_a_two_turn_conversation_with_every_turn_labelled(
    openai_server: FakeOpenAIServer,
) -> None:
    item = JudgeItem("m0", "mt-bench", ("Q1", "Q2"), ("GOOD a1", "GOOD a2"), ("BAD r1", "BAD r2"), "writing")
    [v] = make_pairwise(**_params(openai_server)).judge([item])
    user = openai_server.requests[0]["messages"][1]["content"]
    assert "[Turn 1]\nQ1" in user and "[Turn 2]\nQ2" in user and "[Answer to turn 2]\nGOOD a2" in user
    assert v.scores["overall"] == 9.0 and v.scores["inconsistent"] == 0.0


def test_the_plugin_module_imports_neither_openai_nor_torch() -> None:
    import subprocess
    import sys

    code = "import sys, kick_judges; print('openai' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_single_grading_is_reference_guided_for_math(openai_server: FakeOpenAIServer) -> None:
    item = JudgeItem("m2", "mt-bench", ("2+2?",), ("GOOD 4",), ("4",), "math")
    [v] = make_single(**_params(openai_server)).judge([item])
    assert v.extra["reference_guided"] is True
    assert "[The Start of Reference Answer]\n4" in openai_server.requests[0]["messages"][1]["content"]


def test_an_item_without_a_reference_is_an_error_and_the_others_are_judged(
    openai_server: FakeOpenAIServer,
) -> None:
    bare = JudgeItem("s0", "instruction", ("Q?",), ("GOOD",), None)
    v0, v1 = make_pairwise(**_params(openai_server)).judge([bare, _item()])
    assert "needs a reference" in (v0.error or "") and v0.sample_id == "s0"
    assert v1.error is None and openai_server.count == 2


def test_an_unparseable_reply_is_retried_once_with_a_reminder() -> None:
    replies = [Reply(content="Both are nice."), Reply(content="9 4")]
    with FakeOpenAIServer(scripted(replies, quality_reply)) as server:
        judge = make_pairwise(**_params(server, swap=False))
        [v] = judge.judge([_item()])
    assert v.error is None and v.raw == ("Both are nice.", "9 4")
    retry = server.requests[1]["messages"]
    assert [m["role"] for m in retry] == ["system", "user", "assistant", "user"]
    assert "did not follow the required format" in retry[-1]["content"]
    assert v.extra["parse_retries"] == 1
    assert judge.info()["stats"]["parsed_on_retry"] == 1


def test_a_reply_that_never_parses_is_an_error_with_every_raw_reply_kept() -> None:
    with FakeOpenAIServer(lambda r, n: Reply(content=f"no scores here {n}")) as server:
        judge = make_pairwise(**_params(server))
        [v] = judge.judge([_item()])
    assert v.scores == {} and "does not parse" in (v.error or "")
    assert len(v.raw) == 4 and set(v.raw) == {f"no scores here {i}" for i in range(1, 5)}
    assert judge.info()["stats"]["parse_failed"] == 2


def test_without_parse_retry_a_bad_reply_fails_at_once() -> None:
    with FakeOpenAIServer(lambda r, n: Reply(content="meh")) as server:
        [v] = make_pairwise(**_params(server, retry_parse=False, swap=False)).judge([_item()])
    assert server.count == 1 and v.error and v.raw == ("meh",)


# ---- transport failures ---------------------------------------------------------------------------


def test_rate_limit_is_retried_after_the_servers_retry_after() -> None:
    replies = [Reply(status=429, body=b'{"error": {"message": "slow down"}}', headers={"Retry-After": "0.3"})]
    with FakeOpenAIServer(scripted(replies)) as server:
        t0 = time.monotonic()
        [v] = make_pairwise(**_params(server, swap=False)).judge([_item()])
        elapsed = time.monotonic() - t0
    assert v.error is None and server.count == 2 and elapsed >= 0.3


def test_server_errors_are_retried_then_recorded() -> None:
    boom = Reply(status=500, body=b'{"error": {"message": "boom"}}')
    with FakeOpenAIServer(scripted([boom])) as server:
        [ok] = make_pairwise(**_params(server, swap=False)).judge([_item()])
    assert ok.error is None and server.count == 2
    with FakeOpenAIServer(lambda r, n: boom) as server:
        judge = make_pairwise(**_params(server, swap=False, max_retries=2))
        [bad] = judge.judge([_item()])
    assert server.count == 3 and "HTTP 500" in (bad.error or "") and "3 attempts" in (bad.error or "")
    assert judge.info()["stats"]["request_failed"] == 1


def test_malformed_json_is_recorded_not_raised() -> None:
    with FakeOpenAIServer(lambda r, n: Reply(body=b"{this is not json")) as server:
        [v] = make_pairwise(**_params(server, swap=False)).judge([_item()])
    assert "malformed response" in (v.error or "") and v.scores == {}
    with FakeOpenAIServer(lambda r, n: Reply(body=b'{"unexpected": 1}')) as server:
        [v] = make_pairwise(**_params(server, swap=False)).judge([_item()])
    assert "malformed response" in (v.error or "")


def test_a_hanging_server_times_out_and_is_retried() -> None:
    replies = [Reply(content="9 4", delay=3.0)]
    with FakeOpenAIServer(scripted(replies)) as server:
        [v] = make_pairwise(**_params(server, swap=False, timeout_s=0.5)).judge([_item()])
    # the first (hanging) request would have answered after 3 s; a second request means it
    # was abandoned at the timeout and retried
    assert v.error is None and server.count == 2


def test_a_closed_port_is_a_recorded_connection_error() -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    judge = make_pairwise(base_url=url, api_key_env=KEY_ENV, **{**FAST, "max_retries": 1})
    [v] = judge.judge([_item()])
    assert "connection error" in (v.error or "") and v.scores == {}


def test_the_api_key_never_appears_in_an_error() -> None:
    echo = Reply(
        status=401, body=json.dumps({"error": {"message": f"Incorrect API key provided: {KEY}"}}).encode()
    )
    with FakeOpenAIServer(lambda r, n: echo) as server:
        judge = make_pairwise(**_params(server))
        [v] = judge.judge([_item()])
    assert v.error and "HTTP 401" in v.error and KEY not in v.error and "***" in v.error
    assert KEY not in json.dumps(judge.info())


def test_a_missing_key_for_a_remote_server_is_a_clear_spec_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KICK_NO_SUCH_KEY", raising=False)
    with pytest.raises(SpecError, match="KICK_NO_SUCH_KEY"):
        make_pairwise(base_url="https://judge.example.com/v1", api_key_env="KICK_NO_SUCH_KEY")
    make_pairwise(base_url="http://127.0.0.1:1/v1", api_key_env="KICK_NO_SUCH_KEY")  # local: dummy key
    with pytest.raises(SpecError, match="must not carry credentials") as err:
        make_pairwise(base_url="https://user:hunter22@judge.example.com/v1", api_key_env=KEY_ENV)
    assert "hunter22" not in str(err.value)
    with pytest.raises(SpecError, match="did you mean"):
        make_pairwise(base_url="http://127.0.0.1:1/v1", concurency=2)


# ---- cache, budget, concurrency -------------------------------------------------------------------


def test_the_cache_makes_a_rerun_free(tmp_path: Path, openai_server: FakeOpenAIServer) -> None:
    items = [_item(f"s{i}") for i in range(3)]
    first = make_pairwise(**_params(openai_server, cache_dir=str(tmp_path / "c"))).judge(items)
    assert openai_server.count == 6
    again = make_pairwise(**_params(openai_server, cache_dir=str(tmp_path / "c")))
    second = again.judge(items)
    assert openai_server.count == 6  # nothing new was sent
    assert [v.scores for v in first] == [v.scores for v in second]
    assert again.info()["usage"]["cached"] == 6 and again.info()["usage"]["requests"] == 0
    assert all(KEY not in p.read_text() for p in (tmp_path / "c").rglob("*") if p.is_file())


def test_identical_prompts_in_flight_are_sent_once() -> None:
    items = [JudgeItem(f"s{i}", "instruction", ("Same?",), ("GOOD",), ("BAD",)) for i in range(4)]
    with FakeOpenAIServer(lambda r, n: Reply(content=quality_reply(r, n).content, delay=0.2)) as server:
        verdicts = make_pairwise(**_params(server, concurrency=8)).judge(items)
    assert server.count == 2 and all(v.scores["overall"] == 9.0 for v in verdicts)


def test_the_request_budget_stops_sending_and_records_the_rest(openai_server: FakeOpenAIServer) -> None:
    items = [_item(f"s{i}") for i in range(3)]
    verdicts = make_pairwise(**_params(openai_server, max_requests=3, concurrency=1)).judge(items)
    assert openai_server.count == 3
    assert [v.error is None for v in verdicts] == [True, False, False]
    assert all("budget" in (v.error or "budget") for v in verdicts)
    assert len(verdicts) == 3


def test_concurrency_limit_is_how_many_requests_are_in_flight_at_once() -> None:
    items = [_item(f"s{i}") for i in range(4)]
    slow = lambda r, n: Reply(content=quality_reply(r, n).content, delay=0.2)  # noqa: E731
    for concurrency in (1, 3):
        with FakeOpenAIServer(slow) as server:
            verdicts = make_pairwise(**_params(server, concurrency=concurrency)).judge(items)
        assert all(v.error is None for v in verdicts) and server.count == 8
        # never more than the limit; with a limit above 1, requests really overlap
        assert min(concurrency, 2) <= server.max_in_flight <= concurrency


# ---- whole runs: inline judging, `kick judge`, no key anywhere ------------------------------------


def _spec(judge: ComponentSpec | None, *, compress: bool = True, task: str = "fake-instruct") -> RunSpec:
    return RunSpec(
        model=ModelSpec("fake-model"),
        tasks=(ComponentSpec(task),),
        compression=ComponentSpec("fake-prune") if compress else None,
        judge=judge,
    )


def _all_text(run_dir: Path) -> str:
    return "\n".join(p.read_text(errors="replace") for p in run_dir.rglob("*") if p.is_file())


def test_a_run_is_judged_against_the_dense_answers_and_the_key_is_nowhere(
    tmp_path: Path, builtin_plugins: PluginSet, openai_server: FakeOpenAIServer
) -> None:
    out = tmp_path / "run"
    spec = _spec(ComponentSpec("pairwise", _params(openai_server)))
    summary = run(spec, out, plugins=builtin_plugins, model=load_fake_model())
    n = openai_server.count
    metrics = summary["tasks"]["fake-instruct"]["metrics"]
    comp = metrics["compressed"]
    assert comp["judged"] == 3 and comp["judge_failed"] == 0 and comp["judge_inconsistent"] == 0
    assert comp["judge_overall"] == 4.0 and comp["judge_overall_ref"] == 9.0
    assert comp["judge_overall_ratio"] == pytest.approx(4 / 9)
    assert "judged" not in metrics["dense"] or metrics["dense"]["judged"] == 0  # dense is the reference
    assert n == 6  # 3 compressed answers x 2 orders
    assert summary["judge"]["usage"]["requests"] == 6
    assert (out / "judge_cache").is_dir()  # default cache: inside the run directory
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    judged = [r for r in records if r["variant"] == "compressed"]
    assert all(r["extra"]["judge"]["usage"]["requests"] == 2 for r in judged)
    assert KEY not in _all_text(out)


def test_kick_judge_rejudges_a_finished_run_from_the_cache_without_requests(
    tmp_path: Path,
    builtin_plugins: PluginSet,
    monkeypatch: pytest.MonkeyPatch,
    openai_server: FakeOpenAIServer,
    cli: Any,
) -> None:
    out = tmp_path / "run"
    run(_spec(None), out, plugins=builtin_plugins, model=load_fake_model())  # generated, not judged
    assert (
        "judge_overall"
        not in json.loads((out / "summary.json").read_text())["tasks"]["fake-instruct"]["metrics"][
            "compressed"
        ]
    )
    args = ["judge", str(out), "--judge", "pairwise"]
    for k, v in _params(openai_server).items():
        args += ["--param", f"{k}={v}"]
    res = cli(*args, plugins=builtin_plugins)
    assert res.exit_code == 0, res.output
    assert openai_server.count == 6
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"]["fake-instruct"]["metrics"]["compressed"]["judge_overall_ratio"] == pytest.approx(
        4 / 9
    )
    # again, without --force: everything is judged already, nothing is sent
    res = cli(*args, plugins=builtin_plugins)
    assert res.exit_code == 0 and openai_server.count == 6
    # --force re-judges every record, but the replies come from the cache
    res = cli(*args, "--force", plugins=builtin_plugins)
    assert res.exit_code == 0 and openai_server.count == 6
    assert "6 from cache" in res.output
    assert KEY not in _all_text(out)
    lines = (out / "records.jsonl").read_text().splitlines()
    assert len(lines) == len({(json.loads(x)["variant"], json.loads(x)["sample_id"]) for x in lines})


def test_failed_judgements_are_recorded_then_retried_by_kick_judge(
    tmp_path: Path, builtin_plugins: PluginSet
) -> None:
    out = tmp_path / "run"
    with FakeOpenAIServer(lambda r, n: Reply(content="unreadable")) as server:
        summary = run(
            _spec(ComponentSpec("pairwise", _params(server))),
            out,
            plugins=builtin_plugins,
            model=load_fake_model(),
        )
    comp = summary["tasks"]["fake-instruct"]["metrics"]["compressed"]
    assert comp["judged"] == 0 and comp["judge_failed"] == 3
    recs = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    failed = [r for r in recs if r["variant"] == "compressed"]
    assert all(r["extra"]["judge_error"] and len(r["extra"]["judge_raw"]) == 4 for r in failed)
    with FakeOpenAIServer() as server:
        summary = rejudge(out, ComponentSpec("pairwise", _params(server)), plugins=builtin_plugins)
    comp = summary["tasks"]["fake-instruct"]["metrics"]["compressed"]
    assert comp["judged"] == 3 and comp["judge_failed"] == 0


def test_samples_with_their_own_reference_judge_the_dense_model_too(
    tmp_path: Path, builtin_plugins: PluginSet, openai_server: FakeOpenAIServer
) -> None:
    out = tmp_path / "run"
    spec = RunSpec(
        model=ModelSpec("fake-model"),
        tasks=(ComponentSpec("fake-summary", {"with_reference": True}),),
        compression=ComponentSpec("fake-prune"),
    )
    run(spec, out, plugins=builtin_plugins, model=load_fake_model())
    summary = rejudge(out, ComponentSpec("pairwise", _params(openai_server)), plugins=builtin_plugins)
    m = summary["tasks"]["fake-summary"]["metrics"]
    assert m["dense"]["judge_coherence"] == 9.0 and m["dense"]["judge_coherence_ratio"] == pytest.approx(
        9 / 6
    )
    assert m["compressed"]["judge_coherence"] == 4.0
    assert m["compressed"]["judge_fluency_ratio"] == pytest.approx(4 / 6)
    assert m["compressed"]["judge_inconsistent"] == 0
    assert "judge_coherence_ratio" in summary["tasks"]["fake-summary"]["comparison"]


def test_kick_judge_on_a_folder_that_is_not_a_run_is_one_clear_error(
    tmp_path: Path, cli: Any, builtin_plugins: PluginSet
) -> None:
    res = cli("judge", tmp_path, "--judge", "pairwise", plugins=builtin_plugins)
    assert res.exit_code == 2 and "not a kick run directory" in res.output


def test_a_reference_file_replaces_the_default_references_for_every_variant(
    tmp_path: Path, builtin_plugins: PluginSet, openai_server: FakeOpenAIServer
) -> None:
    out = tmp_path / "run"
    run(_spec(None), out, plugins=builtin_plugins, model=load_fake_model())
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        "\n".join(json.dumps({"question_id": f"q{i}", "text": f"OK answer {i}"}) for i in range(2))
    )
    summary = rejudge(
        out, ComponentSpec("pairwise", _params(openai_server, references=str(refs))), plugins=builtin_plugins
    )
    m = summary["tasks"]["fake-instruct"]["metrics"]
    # q0, q1 have a file reference (OK: 6); q2 has none and is counted as not judged
    assert m["dense"]["judged"] == 2 and m["dense"]["judge_overall_ratio"] == pytest.approx(9 / 6)
    assert m["compressed"]["judged"] == 2 and m["compressed"]["judge_overall_ratio"] == pytest.approx(4 / 6)
    assert m["compressed"]["judge_unjudged"] == 1
    assert all("OK answer" in r["messages"][1]["content"] for r in openai_server.requests)
