"""One writer per directory (issue 14, item 2), with real processes: a second writer of a run or
sweep directory gets one line and exit 2 while the first goes on; the lock of a process killed
with SIGKILL is taken over by the next writer; nothing is written twice."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path

from support.processes import kick_process, kick_result, one_clear_line

from kick.dirlock import LOCK, writer_lock
from kick.errors import RunDirError

SWEEP = 'model = "fake-model"\nmethods = ["fake-magnitude"]\nsparsity = [0.3, 0.6]\ntasks = ["fake-acc"]\nlimit = 8\n'


def _wait_for(path: Path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not path.exists() and time.time() < deadline:
        time.sleep(0.02)
    assert path.exists(), path


def _keys(out: Path) -> list[tuple[str, str, str, str]]:
    return [
        (str(p.parent.relative_to(out)), (r := json.loads(line))["variant"], r["task"], r["sample_id"])
        for p in sorted(out.rglob("records.jsonl"))
        for line in p.read_text().splitlines()
    ]


def test_a_second_sweep_on_the_same_directory_is_refused_while_the_first_runs(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(SWEEP)
    out = tmp_path / "sweep"
    first = kick_process("sweep", "--spec", spec, "--out", out, env={"FAKE_DELAY": "0.05"})
    try:
        _wait_for(out / LOCK)
        time.sleep(0.3)  # the holder's details are written right after the lock is taken
        second = kick_result("sweep", "--spec", spec, "--out", out, "--resume")
        assert second.returncode == 2, second.stderr
        assert one_clear_line(second), second.stderr
        assert f"pid {first.pid}" in second.stderr and socket.gethostname() in second.stderr
        assert first.poll() is None  # the first writer goes on
    finally:
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    keys = _keys(out)
    assert len(keys) == len(set(keys)) == 3 * 8  # dense + 2 cells, 8 samples each, each once
    assert not (out / LOCK).exists()


def test_a_lock_left_by_a_killed_process_is_taken_over_and_the_run_resumes(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = ("run", "fake-model", "--method", "fake-magnitude", "--task", "fake-acc", "--task", "fake-qa",
            "--out", out)  # fmt: skip
    child = kick_process(*args, env={"FAKE_DELAY": "0.05"})
    _wait_for(out / "records.jsonl")
    child.send_signal(signal.SIGKILL)
    child.wait()
    stale = json.loads((out / LOCK).read_text())
    assert stale["pid"] == child.pid  # the lock file outlives its holder...
    res = kick_result(*args, "--resume")
    assert res.returncode == 0, res.stderr  # ...and the next writer takes it over
    assert "records.jsonl" in {p.name for p in out.iterdir()} and not (out / LOCK).exists()
    keys = _keys(out)
    tasks = json.loads((out / "summary.json").read_text())["tasks"]
    expected = sum(t["metrics"][v]["n"] for t in tasks.values() for v in ("dense", "compressed"))
    assert len(keys) == len(set(keys)) == expected > 20


def test_kick_judge_on_a_run_being_written_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    child = kick_process("run", "fake-model", "--method", "fake-prune", "--task", "fake-chat", "--out", out,
                         env={"FAKE_DELAY": "0.05"})  # fmt: skip
    try:
        _wait_for(out / "records.jsonl")
        res = kick_result("judge", out, "--judge", "fake-judge")
        assert res.returncode == 2 and one_clear_line(res), res.stderr
        assert "being written by" in res.stderr
    finally:
        child.communicate(timeout=120)
    assert child.returncode == 0


def test_the_lock_is_exclusive_within_a_process_too_and_leaves_no_trace(tmp_path: Path) -> None:
    d = tmp_path / "new"
    with writer_lock(d, "kick test"):
        assert json.loads((d / LOCK).read_text())["command"] == "kick test"
        try:
            with writer_lock(d):
                raise AssertionError("a second holder got the lock")
        except RunDirError as e:
            assert "kick test (pid" in str(e)
    assert not d.exists()  # created for the lock only: removed with it
