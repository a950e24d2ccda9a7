"""The Ray executor: a sweep's cells as Ray tasks on a cluster (`kick sweep --executor ray`).

Design: **the driver owns the sweep directory.** A cell runs on a worker in a scratch copy of
its part of the sweep layout (`<model>/dense/` with the dense run's files, `<model>/<cell>/` with
whatever the cell had written before an interruption) and returns the files of its run
directory; the driver writes them into `--out` (a temporary sibling, then one rename), so
`--out` needs to exist on the driver only, and a worker lost halfway leaves nothing behind.
Resume works exactly as with the local executor: a finished cell (summary.json) is skipped, an
unfinished cell's records travel to the worker and only the missing samples are evaluated.

Order: every model's dense cell is submitted first; when it returns, every other cell of that
model is submitted, each a task with the resource request `--cpus-per-cell` /
`--gpus-per-cell`. Cells of different models run side by side. Ray retries a task whose worker
died (`max_retries`); a cell that raises is not retried: the sweep stops with its error.
Workers need the same kick, plugins and model access as the driver (a shared Hub cache or
folder); each worker loads its cell's model itself.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.copies import TimedModel, Timings, timed
from kick.errors import KickError, SpecError
from kick.executor import Executor, PlannedCell, Prefixed, SweepJob
from kick.interfaces import Progress
from kick.plugins import load_model, load_plugins
from kick.sweep import LocalExecutor, run_cell

RETRIES = 3
"""How often a cell lost to a dead worker (or node) is started again."""


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise SpecError("--executor ray needs Ray: pip install 'kick[ray]'") from None
    return ray


def check_reachable(address: str, timeout: float = 5.0) -> None:
    """A host:port address must accept a TCP connection (ray.init would wait for minutes)."""
    if address == "auto" or "://" in address:
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise SpecError(f"--address {address!r}: expected HOST:PORT (the head node's GCS port), or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise SpecError(f"cannot reach a Ray cluster at {address}: {e.strerror or e}") from None


def largest_node(nodes: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The most CPUs and GPUs any one live node has (a task runs on one node)."""
    alive = [n.get("Resources") or {} for n in nodes if n.get("Alive", True)]
    return {k: max((float(r.get(k, 0)) for r in alive), default=0.0) for k in ("CPU", "GPU")}


def check_resources(request: Mapping[str, float], nodes: Sequence[Mapping[str, Any]], where: str) -> None:
    have = largest_node(nodes)
    for key, unit in (("GPU", "GPU"), ("CPU", "CPU")):
        if request[key] > have[key]:
            raise SpecError(
                f"a cell asks for {request[key]:g} {unit}(s) but no node of {where} has more than "
                f"{have[key]:g}: lower --{unit.lower()}s-per-cell"
            )


@dataclass(frozen=True)
class CellJob:
    """What travels to the worker: the cell, where it lies in the sweep, and the files it needs."""

    planned: PlannedCell
    rel_path: str
    dense_rel: str | None
    dense_files: Mapping[str, bytes]
    own_files: Mapping[str, bytes]
    sweep: Any
    offload: bool


def _files(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {
        f.name: f.read_bytes() for f in sorted(folder.iterdir()) if f.is_file() and not f.name.startswith(".")
    }


def _write_files(folder: Path, files: Mapping[str, bytes]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


class _Board:
    """A Ray actor the workers post progress events to; the driver drains it."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def post(self, *event: Any) -> None:
        self.events.append(event)

    def drain(self) -> list[tuple[Any, ...]]:
        out, self.events = self.events, []
        return out


class _Forward(Progress):
    """A worker's progress, posted to the board (fire and forget)."""

    def __init__(self, board: Any, cell: str) -> None:
        self._board, self._cell = board, cell

    def stage(self, text: str) -> None:
        self._board.post.remote("stage", self._cell, text)

    def start(self, key: str, text: str, total: int) -> None:
        self._board.post.remote("start", self._cell, key, text, total)

    def advance(self, key: str, n: float) -> None:
        self._board.post.remote("advance", self._cell, key, n)

    def finish(self, key: str) -> None:
        self._board.post.remote("finish", self._cell, key)


def execute_cell(job: CellJob, board: Any) -> dict[str, Any]:
    """Runs on a worker: the cell's `run()` in a scratch copy of its part of the sweep layout;
    returns its run directory's files, its summary and where the time went."""
    import ray

    started = time.time()
    p = job.planned
    node = ray.get_runtime_context().get_node_id()[:8]
    board.post.remote("running", p.id, f"{socket.gethostname()} node {node} pid {os.getpid()}")
    scratch = Path(tempfile.mkdtemp(prefix="kick-cell-"))
    try:
        path = scratch / job.rel_path
        _write_files(path, job.own_files)
        dense = None
        if job.dense_rel is not None:
            dense = scratch / job.dense_rel
            _write_files(dense, job.dense_files)
        plugins = load_plugins()
        timings = Timings()
        with timed(timings, "load"):
            model = load_model(p.model, plugins, offload=job.offload)
        summary = run_cell(
            p, path, sweep=job.sweep, plugins=plugins, model=TimedModel(model, timings),
            progress=_Forward(board, p.id), dense=dense, partial=bool(job.own_files),
        )  # fmt: skip
        return {
            "files": _files(path),
            "summary": summary,
            "timings": timings.as_dict(),
            "started": started,
            "ended": time.time(),
            "where": f"{socket.gethostname()}/{node}",
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


class RayExecutor:
    """Cells as Ray tasks. `address`: a running cluster (HOST:PORT or auto); None starts a
    local one for this sweep (or joins RAY_ADDRESS)."""

    name = "ray"

    def __init__(
        self, address: str | None = None, *, cpus_per_cell: float = 1.0, gpus_per_cell: float = 0.0,
        retries: int = RETRIES, poll_seconds: float = 0.5,
    ) -> None:  # fmt: skip
        if cpus_per_cell <= 0 or gpus_per_cell < 0:
            raise SpecError("--cpus-per-cell must be > 0 and --gpus-per-cell >= 0")
        self.address, self.retries, self.poll = address, retries, poll_seconds
        self.request = {"CPU": float(cpus_per_cell), "GPU": float(gpus_per_cell)}
        self.cells: dict[str, dict[str, float]] = {}  # per cell: submitted, started, ended, received
        self._ray: Any = None

    def open(self, planned: Sequence[PlannedCell]) -> None:
        ray = import_ray()
        if self.address:
            check_reachable(self.address)
        try:
            ray.init(
                address=self.address, include_dashboard=False, log_to_driver=False,
                logging_level="ERROR", configure_logging=False,
            )  # fmt: skip
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise SpecError(
                f"cannot connect to Ray at {self.address or 'a new local cluster'}: {e}"
            ) from None
        self._ray = ray
        try:
            check_resources(self.request, ray.nodes(), f"the cluster at {self.address or 'localhost'}")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._ray is not None and self._ray.is_initialized():
            self._ray.shutdown()
        self._ray = None

    def run(self, job: SweepJob) -> None:
        ray = self._ray
        board = ray.remote(num_cpus=0)(_Board).remote()
        task = ray.remote(execute_cell).options(
            num_cpus=self.request["CPU"], num_gpus=self.request["GPU"], max_retries=self.retries,
            retry_exceptions=False,
        )  # fmt: skip
        pending: dict[Any, PlannedCell] = {}
        waiting: dict[str, list[PlannedCell]] = {}  # dense id -> that model's other cells

        def submit(p: PlannedCell, dense: PlannedCell | None) -> None:
            cj = CellJob(
                p, str(p.path.relative_to(job.out)),
                str(dense.path.relative_to(job.out)) if dense else None,
                _files(dense.path) if dense else {}, _files(p.path) if job.states[p.id] == "partial" else {},
                job.sweep, job.offload,
            )  # fmt: skip
            self.cells[p.id] = {"submitted": time.time()}
            pending[task.remote(cj, board)] = p
            job.progress.stage(f"{p.id}: queued on the cluster")

        for todo in job.by_model():
            if not todo:
                continue
            dense = next(p for p in job.planned if p.model == todo[0].model and p.cell is None)
            if todo[0].cell is None:
                submit(todo[0], None)
                waiting[dense.id] = list(todo[1:])
            else:
                for p in todo:
                    submit(p, dense)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1, timeout=self.poll)
                self._replay(ray.get(board.drain.remote()), job.progress)
                for ref in done:
                    p = pending.pop(ref)
                    self._finish(job, p, self._get(ray, ref, p))
                    for q in waiting.pop(p.id, []):
                        submit(q, p)
            self._replay(ray.get(board.drain.remote()), job.progress)
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)

    def _get(self, ray: Any, ref: Any, p: PlannedCell) -> dict[str, Any]:
        try:
            return dict(ray.get(ref))
        except ray.exceptions.RayTaskError as e:
            cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else None
            if isinstance(cause, KickError):
                raise type(cause)(f"{p.id}: {cause}") from None
            raise KickError(f"{p.id} failed on the cluster: {cause or e}") from None
        except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as e:
            raise KickError(
                f"{p.id}: lost its worker {self.retries + 1} times ({type(e).__name__})"
            ) from None
        except ray.exceptions.RayError as e:
            raise KickError(f"{p.id} failed on the cluster: {type(e).__name__}: {e}") from None

    def _finish(self, job: SweepJob, p: PlannedCell, res: Mapping[str, Any]) -> None:
        p.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{p.path.name}.", dir=p.path.parent))
        try:
            _write_files(tmp, res["files"])
            if p.path.exists():
                shutil.rmtree(p.path)
            os.replace(tmp, p.path)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        times = self.cells[p.id]
        times.update(started=res["started"], ended=res["ended"], received=time.time())
        t = job.result.timings
        for key in ("load", "model_calls"):
            setattr(t, key, getattr(t, key) + float(res["timings"][key]))
        if p.cell is not None:
            t.compress += float((res["summary"].get("compression") or {}).get("wall_seconds") or 0.0)
        job.finished(
            p, res["summary"], on=res["where"], queued_s=round(res["started"] - times["submitted"], 3)
        )

    def _replay(self, events: Sequence[tuple[Any, ...]], progress: Progress) -> None:
        """The workers' progress events, shown as the local executor shows its own."""
        for kind, cell, *rest in events:
            if kind == "running":
                progress.stage(f"{cell}: running on {rest[0]}")
            else:
                getattr(Prefixed(progress, cell), kind)(*rest)


def make_executor(
    name: str, *, address: str | None, cpus_per_cell: float | None, gpus_per_cell: float | None
) -> Executor:
    """`--executor local|ray` and its options; Ray's options with the local executor are an error."""
    if name == "local":
        given = [o for o, v in (("--address", address), ("--cpus-per-cell", cpus_per_cell),
                                ("--gpus-per-cell", gpus_per_cell)) if v is not None]  # fmt: skip
        if given:
            raise SpecError(f"{', '.join(given)} only apply to --executor ray")
        return LocalExecutor()
    if name == "ray":
        return RayExecutor(
            address, cpus_per_cell=1.0 if cpus_per_cell is None else cpus_per_cell,
            gpus_per_cell=gpus_per_cell or 0.0,
        )  # fmt: skip
    raise SpecError(f"--executor must be local or ray, not {name!r}")
