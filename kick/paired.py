"""The paired differences behind a verdict: for one task, the items both variants answered
without an error, and per headline metric the interval of compressed - dense (`kick.stats`).

A metric that is the plain mean of a per-item score of the same name (accuracy, EM, F1) gets
the per-item interval; any other aggregate (perplexity over windows, macro accuracy, judge
means and ratios) is recomputed by the task's own aggregation on resampled items. Counters and
integer-valued totals (n, tokens, windows, judged) and per-subject breakdowns get none."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kick.metrics import headline_metrics
from kick.stats import Difference, StatSettings, aggregate_differences, mean_difference
from kick.types import Record

Aggregate = Callable[[Sequence[Record]], Mapping[str, Any]]


def paired_records(dense: Sequence[Record], compressed: Sequence[Record]) -> list[tuple[Record, Record]]:
    """(dense, compressed) records of the same sample, both without an error, in compressed order."""
    by_id = {r.sample_id: r for r in dense if r.error is None}
    return [(by_id[r.sample_id], r) for r in compressed if r.error is None and r.sample_id in by_id]


def paired_differences(
    dense: Sequence[Record], compressed: Sequence[Record], aggregate: Aggregate, settings: StatSettings
) -> dict[str, dict[str, Any]]:
    """Per headline metric of the task: `Difference.to_dict()` over the paired items."""
    pairs = paired_records(dense, compressed)
    if len(pairs) < 2:  # no spread to estimate: the point rule decides (and says so)
        return {}
    d_recs, c_recs = [p[0] for p in pairs], [p[1] for p in pairs]
    agg_d, agg_c = aggregate(d_recs), aggregate(c_recs)
    names = [
        k for k in headline_metrics(agg_c, None)
        if isinstance(agg_c[k], float) and isinstance(agg_d.get(k), float)
    ]  # fmt: skip
    out: dict[str, Difference] = {}
    generic = []
    for k in names:
        items = _item_scores(k, d_recs, c_recs, agg_d[k], agg_c[k])
        if items is None:
            generic.append(k)
        else:
            out[k] = mean_difference(items[0], items[1], settings)

    def differences_at(idx: Sequence[int]) -> list[float]:
        a_d = aggregate([d_recs[i] for i in idx])
        a_c = aggregate([c_recs[i] for i in idx])
        return [float(a_c.get(k, math.nan)) - float(a_d.get(k, math.nan)) for k in generic]

    point = {k: agg_c[k] - agg_d[k] for k in generic}
    out.update(aggregate_differences(len(pairs), generic, point, differences_at, settings))
    return {k: v.to_dict() for k, v in out.items() if math.isfinite(v.low) and math.isfinite(v.high)}


def _item_scores(
    metric: str, dense: Sequence[Record], compressed: Sequence[Record], agg_d: float, agg_c: float
) -> tuple[list[float], list[float]] | None:
    """The per-item scores of `metric` when the aggregate is exactly their mean, else None."""
    if not all(metric in r.scores for r in (*dense, *compressed)):
        return None
    d = [float(r.scores[metric]) for r in dense]
    c = [float(r.scores[metric]) for r in compressed]
    if abs(sum(d) / len(d) - agg_d) > 1e-9 or abs(sum(c) / len(c) - agg_c) > 1e-9:
        return None
    return d, c
