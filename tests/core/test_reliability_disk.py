"""A full disk (ENOSPC) is one line in every command, keeps what was written and says how to go
on (issue 14, item 6). On a real, tiny tmpfs where this process may mount one (root, as in the
dev container), else with the store's write failing as a full disk makes it fail."""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.processes import kick_result

from kick.rundir import RecordStore


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "small"
    mnt.mkdir()
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True
        )
    except OSError:
        done = None
    if done is None or done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_run_on_a_full_disk_is_one_line_keeps_its_records_and_resumes(
    small_disk: Path, tmp_path: Path
) -> None:
    out = small_disk / "run"
    args = (
        "run",
        "fake-model",
        "--method",
        "fake-prune",
        "--task",
        "fake-acc",
        "--task",
        "fake-qa",
        "--out",
        out,
    )
    (small_disk / "ballast").write_bytes(b"x" * 48 * 1024)  # 4 of its 16 pages left: a few records only
    res = kick_result(*args)
    assert res.returncode == 2, res.stderr
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "disk full while writing" in lines[0] and "--resume" in lines[0]
    kept = len(RecordStore(out / "records.jsonl").all())
    (small_disk / "ballast").unlink()
    res = kick_result(*args, "--resume")
    assert res.returncode == 0, res.stderr
    records = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    keys = [(r["variant"], r["task"], r["sample_id"]) for r in records]
    tasks = json.loads((out / "summary.json").read_text())["tasks"]
    total = sum(t["metrics"][v]["n"] for t in tasks.values() for v in ("dense", "compressed"))
    assert 0 < kept < total  # what was written before the disk filled up is kept...
    assert len(keys) == len(set(keys)) == total  # ...and the resumed run adds the rest, once each


def test_a_full_disk_in_any_command_is_one_line_with_the_file_and_the_way_on(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = RecordStore.append
    calls = {"n": 0}

    def append(self: RecordStore, records: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second chunk: the disk fills up mid-run
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
        real(self, records)

    monkeypatch.setattr(RecordStore, "append", append)
    out = tmp_path / "run"
    res = cli(
        "run", "fake-model", "--method", "fake-prune", "--task", "fake-acc", "--batch-size", "1", "--out", out
    )
    assert res.exit_code == 2, res.output
    assert "disk full while writing" in res.output and "rerun with --resume" in res.output
    assert len(RecordStore(out / "records.jsonl").all()) == 4  # the first chunk (batch 1 x 4) is kept
