"""The Ray executor on a real local Ray cluster (`ray start --head` on 127.0.0.1, 2 CPUs, one per
module: starting Ray takes seconds), against the local executor on the same tiny Llama folder:
the same records in every cell, also when a worker is killed in the middle of a cell."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil  # accelerate depends on it
import pytest
from support import REPO_ROOT
from support.tiny import random_text, save_tiny_llama

from kick.errors import SpecError
from kick.interfaces import Progress
from kick.plugins import load_plugins
from kick.sweep import run_sweep
from kick.sweep_spec import levels_from, parse_sweep_spec

ray = pytest.importorskip("ray")
pytestmark = [pytest.mark.torch, pytest.mark.ray]
RAY = Path(sys.executable).with_name("ray")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SESSION: dict[str, int] = {}  # the test cluster's session id: its workers, and no other Ray's


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    """A head node with 2 CPUs in its own session, stopped by signalling its process group
    (never `ray stop`, which would stop every Ray on the machine)."""
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="kr", dir="/tmp")  # Ray's socket paths must stay short
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "plugins")])}
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # a test cluster on 127.0.0.1 without token auth, whether or not ~/.ray/auth_token exists
    # (Ray 2.60 turns token auth on when it finds one); the driver (this process) says the same
    env["RAY_AUTH_MODE"] = "disabled"
    previous_mode = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    cmd = [
        str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={port}",
        "--num-cpus=2", "--num-gpus=0", "--include-dashboard=false", f"--temp-dir={tmp}",
        f"--dashboard-port={_free_port()}", f"--dashboard-agent-listen-port={_free_port()}",
        "--disable-usage-stats",
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    address = f"127.0.0.1:{port}"
    SESSION["sid"] = proc.pid  # start_new_session: the session id is the leader's pid
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ray start --head did not come up on {address}") from None
                time.sleep(0.2)
        yield address
    finally:
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(proc.pid, signal.SIGKILL)  # what is left of the group (workers, raylet)
        proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        if previous_mode is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous_mode


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """4 compressed cells (magnitude and wanda at 30% and 60%) + dense on a saved tiny Llama,
    scored by perplexity on a text file."""
    base = tmp_path_factory.mktemp("tiny")
    folder = save_tiny_llama(str(base / "tiny-llama"))
    text = base / "text.txt"
    text.write_text(random_text(600, seed=3) + "\n" + random_text(600, seed=4))
    plugins = load_plugins()
    data = {
        "model": folder,
        "methods": ["magnitude", "wanda"],
        "sparsity": [0.3, 0.6],
        "params": {"wanda": {"nsamples": 4, "seqlen": 32, "calibration": str(text)}},
        "tasks": ["perplexity"],
        "task_params": {"perplexity": {"data": str(text), "seqlen": 32, "max_windows": 6}},
        "batch_size": 2,
    }
    return parse_sweep_spec(data, levels_of=levels_from(plugins)), plugins


def _records(out: Path) -> dict[str, list[Any]]:
    cells = {}
    for f in sorted(out.glob("*/*/records.jsonl")):
        rows = [json.loads(line) for line in f.read_text().splitlines() if line.strip()]
        cells[str(f.parent.relative_to(out))] = sorted(
            rows, key=lambda r: (r["variant"], r["task"], r["sample_id"])
        )
    return cells


@pytest.fixture(scope="module")
def local_records(tiny_sweep: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Any]]:
    spec, plugins = tiny_sweep
    out = tmp_path_factory.mktemp("local") / "sweep"
    run_sweep(spec, out, plugins=plugins)
    records = _records(out)
    assert len(records) == 5 and all(records.values())
    return records


class Recorder(Progress):
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def stage(self, text: str) -> None:
        self.events.append(("stage", text))

    def start(self, key: str, text: str, total: int) -> None:
        self.events.append(("start", key))


def test_ray_sweep_gives_the_local_executors_records(
    cluster: str, tiny_sweep: Any, local_records: Any, tmp_path: Path
) -> None:
    from kick.sweep_ray import RayExecutor

    spec, plugins = tiny_sweep
    ex, progress = RayExecutor(cluster, cpus_per_cell=1), Recorder()
    result = run_sweep(spec, tmp_path / "ray", plugins=plugins, executor=ex, progress=progress)
    assert _records(tmp_path / "ray") == local_records
    ids = {c["id"] for c in result.cells}
    assert {i.split("/")[1] for i in ids} == {"dense", "magnitude-s0.3", "magnitude-s0.6", "wanda-s0.3", "wanda-s0.6"}
    dense = ex.cells[next(i for i in ids if i.endswith("/dense"))]
    assert all(t["started"] >= dense["received"] - 1e-3 for i, t in ex.cells.items() if not i.endswith("/dense"))
    # the display shows where each cell runs and its sample bars, keyed by cell
    running = {text.split(":")[0] for kind, text in progress.events if kind == "stage" and "running on" in text}
    assert running == ids
    assert {key.rsplit(":", 1)[0] for kind, key in progress.events if kind == "start" and key != "sweep"} == ids
    index = json.loads((tmp_path / "ray" / "index.json").read_text())
    assert all(c["finished"] for c in index["cells"])
    assert "executor=ray" in (tmp_path / "ray" / "sweep.log").read_text()
    # resume: a cell that lost its summary continues from its records and compression.json (not
    # compressed again), a missing cell runs again, finished cells are skipped
    model = next(iter({i.split("/")[0] for i in ids}))
    partial, gone = tmp_path / "ray" / model / "magnitude-s0.3", tmp_path / "ray" / model / "wanda-s0.6"
    stats = (partial / "compression.json").read_text()
    (partial / "summary.json").unlink()
    shutil.rmtree(gone)
    again = run_sweep(spec, tmp_path / "ray", plugins=plugins, executor=RayExecutor(cluster), mode="resume")
    assert sorted(c["id"].split("/")[1] for c in again.cells if c["status"] == "done") == ["magnitude-s0.3", "wanda-s0.6"]
    assert (partial / "compression.json").read_text() == stats
    assert _records(tmp_path / "ray") == local_records


def _kill_first_cell_worker(stop: threading.Event, killed: list[int]) -> None:
    """Kills (SIGKILL) the first worker of the test cluster seen running a cell (Ray titles it
    ray::execute_cell; workers have their own process group but keep the cluster's session)."""
    while not stop.is_set() and not killed:
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = " ".join(proc.info.get("cmdline") or [])
            if cmd.startswith("ray::execute_cell"):
                try:
                    if os.getsid(proc.pid) != SESSION["sid"]:
                        continue
                    proc.kill()
                    killed.append(proc.pid)
                except (psutil.Error, ProcessLookupError):
                    continue
                return
        time.sleep(0.02)


def test_a_worker_killed_mid_cell_is_retried_and_the_records_are_the_same(
    cluster: str, tiny_sweep: Any, local_records: Any, tmp_path: Path
) -> None:
    from kick.sweep_ray import RayExecutor

    spec, plugins = tiny_sweep
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=_kill_first_cell_worker, args=(stop, killed), daemon=True)
    killer.start()
    try:
        run_sweep(spec, tmp_path / "ray", plugins=plugins, executor=RayExecutor(cluster))
    finally:
        stop.set()
        killer.join(timeout=10)
    assert killed, "no worker was seen running a cell"
    assert _records(tmp_path / "ray") == local_records


def test_bad_cluster_input_fails_in_one_line_before_any_work(
    cluster: str, tiny_sweep: Any, tmp_path: Path
) -> None:
    from kick.sweep_ray import RayExecutor

    spec, plugins = tiny_sweep
    with pytest.raises(SpecError, match="cannot reach a Ray cluster at 127.0.0.1:1"):
        run_sweep(spec, tmp_path / "a", plugins=plugins, executor=RayExecutor("127.0.0.1:1"))
    with pytest.raises(SpecError, match="asks for 1 GPU.*no node .* has more than 0"):
        run_sweep(spec, tmp_path / "b", plugins=plugins, executor=RayExecutor(cluster, gpus_per_cell=1))
    with pytest.raises(SpecError, match="asks for 4 CPU"):
        run_sweep(spec, tmp_path / "c", plugins=plugins, executor=RayExecutor(cluster, cpus_per_cell=4))
    assert not any((tmp_path / d).exists() for d in "abc")
