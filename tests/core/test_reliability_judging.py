"""Judging tells the user what happened (issue 14, item 8): sent / ok / failed / cached, exit 1
when every judgement failed, a plain reason when there is nothing to judge, a timeout that bounds
the whole request (a trickling server), Ctrl-C that ends `kick judge` at once with advice that
names options it has, and a references file that matches no sample id refused before work."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from support.fake_plugin import load_fake_model
from support.openai_server import FakeOpenAIServer, Reply
from support.processes import kick_process

from kick.plugins import PluginSet
from kick.runner import run
from kick.types import ComponentSpec, ModelSpec, RunSpec

FAST = {"model": "judge-model", "timeout_s": 5.0, "backoff_s": 0.01, "max_backoff_s": 0.05}


def _judge_args(server: FakeOpenAIServer, **kw: Any) -> list[str]:
    params = {"base_url": server.url, **FAST, **kw}
    return [a for k, v in params.items() for a in ("--param", f"{k}={v}")]


def _generated(out: Path, plugins: PluginSet, *, compress: bool = True) -> Path:
    spec = RunSpec(model=ModelSpec("fake-model"), tasks=(ComponentSpec("fake-instruct"),),
                   compression=ComponentSpec("fake-prune") if compress else None)  # fmt: skip
    run(spec, out, plugins=plugins, model=load_fake_model())
    return out


def test_every_judgement_failing_is_an_error_and_every_request_is_counted(
    tmp_path: Path, builtin_plugins: PluginSet, cli: Any
) -> None:
    out = _generated(tmp_path / "run", builtin_plugins)
    with FakeOpenAIServer(lambda request, n: Reply(status=500, body=b'{"error": "down"}')) as server:
        res = cli(
            "judge", out, "--judge", "pairwise", *_judge_args(server, max_retries=1), plugins=builtin_plugins
        )
        made = server.count
    assert res.exit_code == 1, res.output
    assert "every judgement failed (3 of 3)" in res.output
    assert made == 12  # 3 items x 2 orders x 2 attempts
    assert f"requests: {made} sent, 0 answered" in res.output
    judging = json.loads((out / "summary.json").read_text())["judging"]
    assert judging["asked"] == 3 and judging["ok"] == 0 and judging["failed"] == 3


def test_sent_ok_failed_and_cache_hits_are_reported(
    tmp_path: Path, builtin_plugins: PluginSet, cli: Any, openai_server: FakeOpenAIServer
) -> None:
    out = _generated(tmp_path / "run", builtin_plugins)
    res = cli("judge", out, "--judge", "pairwise", *_judge_args(openai_server), plugins=builtin_plugins)
    assert res.exit_code == 0, res.output
    assert (
        "3 item(s) sent to the judge, 3 ok, 0 failed" in res.output
        and "requests: 6 sent, 6 answered" in res.output
    )
    res = cli(
        "judge", out, "--judge", "pairwise", "--force", *_judge_args(openai_server), plugins=builtin_plugins
    )
    assert res.exit_code == 0 and "0 sent, 0 answered, 6 from cache" in res.output, res.output
    res = cli("judge", out, "--judge", "pairwise", *_judge_args(openai_server), plugins=builtin_plugins)
    assert res.exit_code == 0 and "nothing to judge: 3 record(s) are judged already (--force" in res.output


def test_judging_an_eval_says_why_there_is_nothing_to_judge(
    tmp_path: Path, builtin_plugins: PluginSet, cli: Any, openai_server: FakeOpenAIServer
) -> None:
    out = _generated(tmp_path / "eval", builtin_plugins, compress=False)
    res = cli("judge", out, "--judge", "pairwise", *_judge_args(openai_server), plugins=builtin_plugins)
    assert res.exit_code == 0, res.output
    assert "nothing to judge: 3 dense answer(s) are the references themselves" in res.output
    assert openai_server.count == 0


def test_a_references_file_matching_no_sample_id_is_refused_before_work(
    tmp_path: Path, builtin_plugins: PluginSet, cli: Any, openai_server: FakeOpenAIServer
) -> None:
    out = _generated(tmp_path / "run", builtin_plugins)
    refs = tmp_path / "refs.jsonl"
    refs.write_text(
        '{"question_id": 81, "choices": [{"turns": ["x"]}]}\n{"question_id": 82, "turns": ["y"]}\n'
    )
    before = (out / "records.jsonl").read_bytes()
    res = cli("judge", out, "--judge", "pairwise", *_judge_args(openai_server, references=refs),
              plugins=builtin_plugins)  # fmt: skip
    assert res.exit_code == 2 and "none of its 2 ids (81, 82 ...) is a sample id" in res.output, res.output
    assert openai_server.count == 0 and (out / "records.jsonl").read_bytes() == before


def test_the_timeout_bounds_the_whole_request_not_each_read() -> None:
    from kick_judges.transport import OpenAIBackend, RequestBudget, RequestError, RetryPolicy

    with FakeOpenAIServer(lambda request, n: Reply(content="8 2", trickle=0.2)) as server:  # ~60 s in all
        backend = OpenAIBackend(base_url=server.url, model="m", api_key="k", timeout_s=1.0,
                                retry=RetryPolicy(max_retries=0), budget=RequestBudget(0))  # fmt: skip
        t0 = time.monotonic()
        with pytest.raises(RequestError, match="timeout"):
            backend.complete([{"role": "user", "content": "hi"}], max_tokens=4, temperature=0.0)
        assert time.monotonic() - t0 < 15  # bounded by timeout_s, far from the ~60 s the body takes
        assert backend.sent == 1


def test_ctrl_c_ends_kick_judge_at_once_and_names_what_it_has(
    tmp_path: Path, builtin_plugins: PluginSet
) -> None:
    out = _generated(tmp_path / "run", builtin_plugins)
    with FakeOpenAIServer(lambda request, n: Reply(content="8 2", delay=120)) as server:
        child = kick_process("judge", out, "--judge", "pairwise",
                             *_judge_args(server, timeout_s=100, concurrency=4), builtins=True)  # fmt: skip
        deadline = time.time() + 60
        while server.count < 2 and time.time() < deadline and child.poll() is None:
            time.sleep(0.05)
        assert server.count >= 2  # requests are in flight, each would wait 100 s
        child.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        _, stderr = child.communicate(timeout=60)
        waited = time.monotonic() - t0
    assert child.returncode == 130, stderr
    assert waited < 10, waited  # not the 100 s of the requests in flight
    assert "rerun the same kick judge" in stderr and "--resume" not in stderr
    assert "Traceback" not in stderr
