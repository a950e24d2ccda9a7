"""Calibration noise: cells of one method @ level that differ only by their calibration seed
(`cell.seed`), summarised per metric as min, max and mean across the seeds, so the spread that
seeds cause stands beside the item-level interval of each cell."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from kick.types import Level


class Row(Protocol):
    """What a spread reads of a report row (`kick.report.model.Row`)."""

    @property
    def method(self) -> str: ...

    @property
    def level(self) -> Level: ...

    @property
    def seed(self) -> int | None: ...

    def cell(self, metric: str) -> Any: ...


@dataclass(frozen=True)
class SpreadCell:
    """One metric across the seeds of one method @ level: min, max, mean, and each seed's verdict."""

    metric: str
    low: float | None
    high: float | None
    mean: float | None
    verdicts: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class SeedSpread:
    """The calibration noise of one method @ level: its rows differ only by seed."""

    method: str
    level: Level
    seeds: tuple[int, ...]
    cells: tuple[SpreadCell, ...]

    @property
    def label(self) -> str:
        return f"{self.method} @ {self.level.label} across {len(self.seeds)} seeds"

    def cell(self, metric: str) -> SpreadCell | None:
        return next((c for c in self.cells if c.metric == metric), None)


def seed_spreads(rows: Sequence[Row], metrics: Sequence[str]) -> tuple[SeedSpread, ...]:
    """Per method @ level with rows of two or more seeds: each metric's min, max and mean."""
    groups: dict[tuple[str, Level], list[Row]] = {}
    for row in rows:
        if row.seed is not None:
            groups.setdefault((row.method, row.level), []).append(row)
    out = []
    for (method, level), group in groups.items():
        if len({r.seed for r in group}) < 2:
            continue
        cells = []
        for m in metrics:
            found = [c for r in group if (c := r.cell(m)) is not None]
            values = [c.value for c in found if c.value is not None]
            cells.append(
                SpreadCell(
                    m,
                    min(values) if values else None,
                    max(values) if values else None,
                    sum(values) / len(values) if values else None,
                    tuple(c.verdict for c in found),
                )
            )
        out.append(
            SeedSpread(method, level, tuple(r.seed for r in group if r.seed is not None), tuple(cells))
        )
    return tuple(out)
