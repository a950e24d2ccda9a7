"""The judges end to end against a REAL OpenAI-compatible server: llm-katan serving the embedded
SmolLM2-135M on 127.0.0.1 (started and stopped here), and the in-process `local-hf` judge.

SmolLM2-135M is a very weak judge: most of its replies do not follow the format. What is
checked is the pipeline: every sample ends with scores or a recorded error with its raw
replies, both orders are asked, the cache spares requests, the key is nowhere on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from kick_judges.judges import make_local_hf, make_pairwise
from support.fake_plugin import load_fake_model
from support.katan import KatanServer, katan_command, katan_server

from kick.plugins import PluginSet
from kick.runner import run
from kick.types import ComponentSpec, JudgeItem, ModelSpec, RunSpec

pytestmark = pytest.mark.server

KEY_ENV = "KICK_TEST_JUDGE_KEY"
KEY = "sk-kick-server-test-QQ93-distinctive"


@pytest.fixture(scope="module")
def katan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KatanServer]:
    if katan_command() is None:
        pytest.skip("llm-katan is not installed")
    with katan_server(tmp_path_factory.mktemp("katan"), max_concurrent=2) as server:
        yield server


def _params(server: KatanServer, **kw: object) -> dict[str, object]:
    return {"base_url": server.url, "model": "judge-model", "api_key_env": KEY_ENV, "max_tokens": 8,
            "timeout_s": 120.0, "concurrency": 2, **kw}  # fmt: skip


def _settled(record: dict[str, object]) -> bool:
    scores = record["scores"]
    extra = record["extra"]
    assert isinstance(scores, dict) and isinstance(extra, dict)
    has_scores = any(k.startswith("judge.") for k in scores)
    has_error = bool(extra.get("judge_error")) and bool(extra.get("judge_raw"))
    return has_scores != has_error  # exactly one of the two


def test_a_run_is_judged_through_a_real_server(
    katan: KatanServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, builtin_plugins: PluginSet
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.delenv("KICK_CACHE_DIR", raising=False)
    plugins = builtin_plugins
    spec = RunSpec(
        model=ModelSpec("fake-model"),
        tasks=(ComponentSpec("fake-instruct", {"n": 1}),),
        compression=ComponentSpec("fake-prune"),
        judge=ComponentSpec("pairwise", _params(katan, retry_parse=False)),
    )
    before = katan.requests_total()
    out = tmp_path / "run"
    summary = run(spec, out, plugins=plugins, model=load_fake_model())
    sent = katan.requests_total() - before
    assert sent == 2  # 1 compressed answer x both orders, nothing retried
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    judged = [r for r in records if r["variant"] == "compressed"]
    assert len(judged) == 1 and all(_settled(r) for r in judged)
    comp = summary["tasks"]["fake-instruct"]["metrics"]["compressed"]
    assert comp["judged"] + comp["judge_failed"] == 1
    assert summary["judge"]["usage"]["requests"] == 2 and summary["judge"]["usage"]["prompt_tokens"] > 0
    text = "\n".join(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())
    assert KEY not in text

    # re-judging everything: replies that parsed come from the cache, only failures are re-asked
    from kick.runner import rejudge

    stats = summary["judge"]["stats"]
    before = katan.requests_total()
    again = rejudge(out, spec.judge, force=True, plugins=plugins)  # type: ignore[arg-type]
    assert again["judge"]["usage"]["cached"] == stats["parsed_first_try"]
    assert katan.requests_total() - before == again["judge"]["usage"]["requests"] == stats["parse_failed"]


def test_parse_retries_and_swap_against_a_real_model(
    katan: KatanServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    judge = make_pairwise(**_params(katan, cache=False))
    items = [
        JudgeItem(
            "s1", "summarization", ("A cat sat on a mat all day.",), ("A cat sat.",), ("The cat rested.",)
        )
    ]
    before = katan.requests_total()
    [v] = judge.judge(items)
    stats = judge.info()["stats"]
    sent = katan.requests_total() - before
    assert sent == stats["requests"] == 2 + stats["parse_failed"] + stats["parsed_on_retry"]
    assert (v.error is None) == bool(v.scores)
    assert len(v.raw) == sent
    assert {r["slot"] for r in v.extra["replies"]} == {"answer-first", "reference-first"}


@pytest.mark.torch
def test_the_local_hf_judge_runs_without_a_server() -> None:
    judge = make_local_hf(
        model="smollm2-135m", protocol="single", max_tokens=8, cache=False, retry_parse=False
    )
    [v] = judge.judge([JudgeItem("s1", "mt-bench", ("What is 2+2?",), ("4",), None, "writing")])
    assert (v.error is None and "rating" in v.scores) or (v.error and v.raw)
    info = judge.info()
    assert info["name"] == "local-hf" and info["usage"]["requests"] >= 1
    assert info["model_info"]  # the loaded model's provenance is recorded
