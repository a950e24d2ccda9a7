"""SIGKILL and resume (issue 14): `kick run` and `kick sweep` killed at a random moment during
generation (the fake model with FAKE_DELAY), then resumed with --resume, which must take over the
dead process's lock; the records and metrics are compared with an uninterrupted run.

    PYTHONPATH=.:plugins:tests nice -n 10 python benchmarks/kill_resume.py [--runs 6] [--sweeps 4] [--seed 0]

Prints one row per kill (records on disk when killed, lost, duplicated, metrics identical) and
the totals.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.processes import kick_process, kick_result  # noqa: E402

RUN = (
    "run",
    "fake-model",
    "--method",
    "fake-magnitude",
    "--task",
    "fake-acc",
    "--task",
    "fake-qa",
    "--batch-size",
    "1",
)
SWEEP = 'model = "fake-model"\nbatch_size = 1\nmethods = ["fake-magnitude", "fake-first"]\nsparsity = [0.3, 0.6]\ntasks = ["fake-acc", "fake-qa"]\n'


def records(out: Path) -> list[tuple[str, ...]]:
    rows = []
    for p in sorted(out.rglob("records.jsonl")):
        for line in p.read_text().splitlines():
            r = json.loads(line)
            rows.append((str(p.parent.relative_to(out)), r["variant"], r["task"], r["sample_id"], r["output"],
                         json.dumps(r["scores"], sort_keys=True)))  # fmt: skip
    return rows


def metrics(out: Path) -> dict[str, Any]:
    return {
        str(p.parent.relative_to(out)): json.loads(p.read_text())["tasks"]
        for p in sorted(out.rglob("summary.json"))
    }


def count(out: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in out.rglob("records.jsonl")) if out.exists() else 0


def trial(args: tuple[str, ...], out: Path, kill_at: int, reference: Path) -> dict[str, Any]:
    child = kick_process(*args, "--out", out, env={"FAKE_DELAY": "0.03"})
    deadline = time.time() + 120
    while count(out) < kill_at and child.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    on_disk = count(out)
    res = kick_result(*args, "--out", out, "--resume")
    got, want = records(out), records(reference)
    keys = [r[:4] for r in got]
    return {
        "killed_with_records": on_disk,
        "resume_exit": res.returncode,
        "lost": len({r[:4] for r in want} - set(keys)),
        "duplicated": len(keys) - len(set(keys)),
        "records_identical": sorted(got) == sorted(want),
        "metrics_identical": metrics(out) == metrics(reference),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--sweeps", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    w = Path(tempfile.mkdtemp(prefix="kick-kill-"))
    rows = []
    try:
        spec = w / "sweep.toml"
        spec.write_text(SWEEP)
        kinds = [("run", RUN)] * a.runs + [("sweep", ("sweep", "--spec", str(spec)))] * a.sweeps
        refs: dict[str, Path] = {}
        for kind, args in dict(kinds).items():
            refs[kind] = w / f"ref-{kind}"
            done = kick_result(*args, "--out", refs[kind])
            assert done.returncode == 0, done.stderr
        for i, (kind, args) in enumerate(kinds):
            total = count(refs[kind])
            kill_at = rng.randrange(1, total)
            row = {"kind": kind, "of": total, **trial(args, w / f"{kind}{i}", kill_at, refs[kind])}
            rows.append(row)
            print(json.dumps(row), flush=True)
    finally:
        shutil.rmtree(w, ignore_errors=True)
    bad = [r for r in rows if r["lost"] or r["duplicated"] or not r["metrics_identical"] or r["resume_exit"]]
    print(f"\n{len(rows)} kills ({a.runs} kick run, {a.sweeps} kick sweep): "
          f"{sum(r['lost'] for r in rows)} records lost, {sum(r['duplicated'] for r in rows)} duplicated, "
          f"{sum(r['metrics_identical'] for r in rows)} of {len(rows)} with identical metrics, "
          f"{sum(r['records_identical'] for r in rows)} with identical records")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
