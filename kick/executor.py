"""Who runs a sweep's cells: the planned cells, the state a sweep hands its executor, and the
`Executor` contract. `kick.sweep` holds the local executor (one process, one cell after another);
`kick.sweep_ray` runs cells as Ray tasks.

Whatever the executor, the sweep directory has one writer, the driver process: it checks and
prepares the directory before any cell runs, writes index.json and sweep.log, and each cell's run
directory is either written in place (local) or written by the driver from what a remote cell
returns (Ray). A cell's directory is the same either way, so `kick report`, `--resume` and
`--overwrite` do not know which executor ran it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from kick.copies import Timings
from kick.errors import SpecError
from kick.interfaces import Progress
from kick.plugins import PluginSet
from kick.rundir import SUMMARY, read_json
from kick.sweep_spec import Cell, SweepSpec, cell_run_spec, dense_run_spec, model_slug
from kick.types import COMPRESSED, DENSE, ModelSpec, RunSpec

CellState = Literal["absent", "partial", "finished", "changed"]


@dataclass(frozen=True)
class PlannedCell:
    """A cell (or the dense baseline, `cell is None`) with its run spec and directory."""

    model: ModelSpec
    cell: Cell | None
    spec: RunSpec
    path: Path

    @property
    def id(self) -> str:
        return self.cell.id if self.cell else f"{model_slug(self.model.name)}/dense"

    @property
    def label(self) -> str:
        if self.cell is None:
            return "dense"
        seed = f" seed {self.cell.seed}" if self.cell.seed is not None else ""
        return f"{self.cell.method} @ {self.cell.level.label if self.cell.level else 'default'}{seed}"


def plan(sweep: SweepSpec, out: Path) -> list[PlannedCell]:
    """Every run directory of the sweep, dense first for each model. Pure (no I/O)."""
    planned: list[PlannedCell] = []
    for name in [model_slug(m.name) for m in sweep.models] + [c.name for c in sweep.cells]:
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise SpecError(f"sweep: {name!r} would put a cell outside the sweep directory {out}")
    for model in sweep.models:
        base = out / model_slug(model.name)
        planned.append(PlannedCell(model, None, dense_run_spec(sweep, model), base / "dense"))
        for cell in sweep.cells:
            if cell.model == model.name:
                planned.append(PlannedCell(model, cell, cell_run_spec(sweep, model, cell), base / cell.name))
    return planned


def cell_info(p: PlannedCell) -> dict[str, Any]:
    level = p.cell.level if p.cell else None
    return {
        "id": p.id,
        "model": p.model.name,
        "method": p.cell.method if p.cell else None,
        "level": level.to_dict() if level else None,
        "seed": p.cell.seed if p.cell else None,
    }


@dataclass
class SweepResult:
    cells: list[dict[str, Any]] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The cells that failed this time (id, error, ...); the others still ran."""
        return [c for c in self.cells if c["status"] == "failed"]


@dataclass
class SweepJob:
    """What an executor gets: the plan, each cell's state on disk (checked and prepared), and
    where to report. `finished(p, summary)` is called once per cell that ends in this sweep."""

    sweep: SweepSpec
    out: Path
    planned: Sequence[PlannedCell]
    states: Mapping[str, CellState]
    plugins: PluginSet
    progress: Progress
    result: SweepResult
    log: logging.Logger
    offload: bool = False

    def by_model(self) -> list[list[PlannedCell]]:
        """Each model's cells, dense first; cells already finished are reported and left out."""
        groups = []
        for model in self.sweep.models:
            cells = [p for p in self.planned if p.model == model]
            for p in cells:
                if self.states[p.id] == "finished":
                    self.result.cells.append(_cell_entry(p, "finished", None))
                    self.progress.advance("sweep", 1)
                    self.progress.cell_done(p.id, read_json(p.path / SUMMARY))
            groups.append([p for p in cells if self.states[p.id] != "finished"])
        return groups

    def finished(self, p: PlannedCell, summary: Mapping[str, Any], **extra: Any) -> None:
        _log_cell(self.log, p, summary, extra)
        self.result.cells.append({**_cell_entry(p, "done", summary), **extra})
        self.progress.advance("sweep", 1)
        self.progress.cell_done(p.id, summary)

    def failed(self, p: PlannedCell, error: str) -> None:
        """`p` ended with `error`: recorded in index.json, and the sweep goes on."""
        self.log.error("%s: failed: %s", p.id, error)
        self.result.cells.append({**_cell_entry(p, "failed", None), "error": error})
        self.progress.advance("sweep", 1)

    def has_failed(self, p: PlannedCell) -> bool:
        return any(c["id"] == p.id and c["status"] == "failed" for c in self.result.cells)


class Executor(Protocol):
    """Runs a sweep's unfinished cells. `open` checks everything it needs (a cluster to reach,
    resources that exist) before the sweep directory is touched: bad input fails there, in a
    second; `run` runs every cell of `job.by_model()`, each model's dense cell before the
    others; `close` releases what `open` took."""

    name: str

    def open(self, planned: Sequence[PlannedCell]) -> None: ...

    def run(self, job: SweepJob) -> None: ...

    def close(self) -> None: ...


def _log_cell(
    log: logging.Logger, p: PlannedCell, summary: Mapping[str, Any], extra: Mapping[str, Any]
) -> None:
    where = f" ({', '.join(f'{k} {v}' for k, v in extra.items())})" if extra else ""
    log.info("%s: finished in %.2fs%s", p.id, summary["seconds"], where)
    variant = DENSE if p.cell is None else COMPRESSED
    for name, entry in summary["tasks"].items():
        m = entry["metrics"][variant]
        primary = entry.get("primary_metric")
        log.info(
            "%s: %s %s=%s n=%s errors=%s", p.id, name, primary, m.get(primary), m.get("n"), m.get("errors")
        )


def _cell_entry(p: PlannedCell, status: str, summary: Mapping[str, Any] | None) -> dict[str, Any]:
    entry = {**cell_info(p), "path": str(p.path), "status": status}
    if summary is not None:
        entry["seconds"] = summary.get("seconds")
    return entry


class Prefixed(Progress):
    """Gives sample-level progress keys the cell's id, so bars of different cells never collide."""

    def __init__(self, inner: Progress, prefix: str) -> None:
        self._inner, self._prefix = inner, prefix

    def stage(self, text: str) -> None:
        self._inner.stage(f"{self._prefix}: {text}")

    def start(self, key: str, text: str, total: int) -> None:
        self._inner.start(f"{self._prefix}:{key}", f"{self._prefix} {text.split(maxsplit=1)[-1]}", total)

    def advance(self, key: str, n: float) -> None:
        self._inner.advance(f"{self._prefix}:{key}", n)

    def finish(self, key: str) -> None:
        self._inner.finish(f"{self._prefix}:{key}")
