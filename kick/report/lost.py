"""Knowledge lost, item by item: for each compressed cell, the items its dense model answered
right and it answered wrong on the task's primary metric, when that metric is 0/1 per item
(for a lower-is-better 0/1 score, right is 0). Items with an error on either side are left
out, as in the paired statistics, so the count equals the summary's `lost`.

Each records.jsonl is read once, in one pass (a dense run shared by a sweep's cells is read once
for all of them); a torn last line is skipped, and for a key seen twice the later record wins."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.report.model import Level, Result
from kick.rundir import RECORDS
from kick.types import COMPRESSED, DENSE

SHOWN = 20
"""Items per cell the HTML and Markdown show (the JSON has all of them)."""

Records = dict[str, dict[str, dict[str, dict[str, Any]]]]  # variant -> task -> sample id -> record


@dataclass(frozen=True)
class LostItem:
    id: str
    question: str  # the prompt, shortened
    dense_answer: str
    compressed_answer: str
    reference: str


@dataclass(frozen=True)
class CellLost:
    model: str
    task: str
    method: str
    level: Level
    seed: int | None
    metric: str
    paired: int  # items both answered without an error
    items: tuple[LostItem, ...]

    @property
    def label(self) -> str:
        seed = f" seed {self.seed}" if self.seed is not None else ""
        return f"{self.method} @ {self.level.label}{seed}"


def shorten(text: Any, limit: int = 160) -> str:
    """One line of at most about `limit` characters: its head and its tail (a question usually
    ends a prompt, after any template or few-shot header)."""
    s = " ".join(str(text if text is not None else "").split())
    if len(s) <= limit:
        return s
    head = limit // 3
    return f"{s[:head]} … {s[-(limit - head - 3) :]}"


def read_records(run_dir: Path) -> Records:
    out: Records = {}
    path = run_dir / RECORDS
    if not path.exists():
        return out
    with path.open("rb") as f:
        for raw in f:
            try:
                d = json.loads(raw)
                key = (d["variant"], d["task"], d["sample_id"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line
            out.setdefault(key[0], {}).setdefault(key[1], {})[key[2]] = d
    return out


def _reference(ref: Any) -> str:
    """Aliases as 'a / b', anything else as its text."""
    if isinstance(ref, (list, tuple)):
        return " / ".join(str(x) for x in ref)
    return "" if ref is None else str(ref)


def _score(rec: dict[str, Any], metric: str) -> float | None:
    if rec.get("error") is not None:
        return None
    v = (rec.get("scores") or {}).get(metric)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def lost_items(
    dense: dict[str, dict[str, Any]], compressed: dict[str, dict[str, Any]], metric: str, lower: bool
) -> tuple[list[LostItem], int] | None:
    """The items lost (in the compressed records' order) and the paired count; None when the
    metric is not 0/1 on every paired item."""
    right = 0.0 if lower else 1.0
    pairs = []
    for sid, c in compressed.items():
        d = dense.get(sid)
        if d is None:
            continue
        sd, sc = _score(d, metric), _score(c, metric)
        if sd is None or sc is None:
            continue
        if sd not in (0.0, 1.0) or sc not in (0.0, 1.0):
            return None
        pairs.append((sid, d, c, sd, sc))
    items = [
        LostItem(
            sid, shorten(c.get("prompt")), shorten(d.get("output"), 80), shorten(c.get("output"), 80),
            shorten(_reference(c.get("reference")), 80),
        )
        for sid, d, c, sd, sc in pairs
        if sd == right and sc != right
    ]  # fmt: skip
    return items, len(pairs)


def knowledge_lost(results: Sequence[Result]) -> list[CellLost]:
    """Per compressed cell with records and a 0/1 primary metric: the items it lost."""
    cache: dict[str, Records] = {}

    def records(folder: str) -> Records:
        if folder not in cache:
            cache[folder] = read_records(Path(folder))
        return cache[folder]

    shared = {r.dense_dir for r in results}
    out = []
    for i, r in enumerate(results):
        if i and results[i - 1].run_dir != r.run_dir and results[i - 1].run_dir not in shared:
            cache.pop(results[i - 1].run_dir or "", None)  # a finished cell's records: not needed again
        metric = r.primary_metric
        if r.run_dir is None or r.dense_dir is None or metric is None:
            continue
        comp = records(r.run_dir).get(COMPRESSED, {}).get(r.task)
        dense = records(r.dense_dir).get(DENSE, {}).get(r.task)
        if not comp or not dense:
            continue
        found = lost_items(dense, comp, metric, metric in r.lower_is_better)
        if found is not None:
            out.append(
                CellLost(r.model, r.task, r.method, r.level, r.seed, metric, found[1], tuple(found[0]))
            )
    return out
