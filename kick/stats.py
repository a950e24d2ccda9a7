"""Paired uncertainty of "compressed minus dense", item by item.

Dense and compressed answer the same samples, so every difference is paired: the interval is
for the mean of per-item differences (or for the difference of any aggregate over the same
resampled items), which is much narrower than comparing two independent means when the two
models agree on most items. The statistics come from SciPy:

* a metric whose items are all 0 or 1 (accuracy, exact match): the exact conditional interval
  behind McNemar's test. Only the discordant items carry information: of the `m` items where
  the models disagree, `gained` went the compressed model's way; `scipy.stats.binomtest(gained,
  m).proportion_ci` (Clopper-Pearson) bounds that proportion p, and the difference of the two
  accuracies is `m / n * (2p - 1)`;
* any other mean over items (F1, ROUGE, judge scores): `scipy.stats.bootstrap` with
  `paired=True`, percentile interval, seeded;
* any other aggregate (perplexity over windows, macro accuracy, judge ratios): the same
  bootstrap over resampled item indices, recomputing the task's own aggregate on both variants.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LEVEL = 0.95


@dataclass(frozen=True)
class StatSettings:
    """How intervals are computed; recorded in every summary so they can be recomputed."""

    level: float = LEVEL
    resamples: int = 2000
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        import scipy

        return {
            "level": self.level,
            "resamples": self.resamples,
            "seed": self.seed,
            "scipy": scipy.__version__,
        }


@dataclass(frozen=True)
class Difference:
    """compressed - dense over `n` paired items: the point value and its interval."""

    delta: float
    low: float
    high: float
    method: str  # "mcnemar-exact" | "paired-bootstrap" | "identical"
    n: int
    lost: int | None = None  # binary metrics: items dense got right and compressed got wrong
    gained: int | None = None  # ... and the reverse

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"interval": [self.low, self.high], "method": self.method, "n": self.n}
        if self.lost is not None:
            out["lost"], out["gained"] = self.lost, self.gained
        return out


def is_binary(values: Sequence[float]) -> bool:
    return all(v in (0.0, 1.0) for v in values)


def mean_difference(
    dense: Sequence[float], compressed: Sequence[float], settings: StatSettings
) -> Difference:
    """The paired difference of two per-item means (same items, same order)."""
    import numpy as np

    d, c = np.asarray(dense, dtype=float), np.asarray(compressed, dtype=float)
    if d.shape != c.shape or d.size < 2:
        raise ValueError("paired items: dense and compressed need the same number of items, at least 2")
    n = int(d.size)
    delta = float(np.mean(c - d))
    if is_binary(d.tolist()) and is_binary(c.tolist()):
        return mcnemar_difference(
            int(np.sum((d == 1) & (c == 0))), int(np.sum((d == 0) & (c == 1))), n, settings
        )
    diffs = c - d
    if float(np.ptp(diffs)) == 0.0:  # every item moved by the same amount: nothing to resample
        return Difference(delta, delta, delta, "identical", n)
    low, high = bootstrap((d, c), lambda x, y, axis: np.mean(y - x, axis=axis), settings, paired=True)
    return Difference(delta, float(low), float(high), "paired-bootstrap", n)


def mcnemar_difference(lost: int, gained: int, n: int, settings: StatSettings) -> Difference:
    """Exact conditional interval of (gained - lost) / n from the discordant items."""
    m = lost + gained
    if m == 0:
        return Difference(0.0, 0.0, 0.0, "mcnemar-exact", n, lost, gained)
    from scipy import stats

    ci = stats.binomtest(gained, m).proportion_ci(confidence_level=settings.level, method="exact")
    scale = m / n
    return Difference(
        (gained - lost) / n,
        scale * (2 * ci.low - 1),
        scale * (2 * ci.high - 1),
        "mcnemar-exact",
        n,
        lost,
        gained,
    )


def unpaired_mean_difference(
    dense: Sequence[float], compressed: Sequence[float], settings: StatSettings
) -> Difference:
    """The same difference as if the two samples were independent (for comparison only)."""
    import numpy as np

    d, c = np.asarray(dense, dtype=float), np.asarray(compressed, dtype=float)
    stat = lambda x, y, axis: np.mean(y, axis=axis) - np.mean(x, axis=axis)  # noqa: E731
    low, high = bootstrap((d, c), stat, settings, paired=False)
    return Difference(float(np.mean(c) - np.mean(d)), float(low), float(high), "bootstrap", int(d.size))


def aggregate_differences(
    n: int,
    names: Sequence[str],
    point: Mapping[str, float],
    differences_at: Callable[[Sequence[int]], Sequence[float]],
    settings: StatSettings,
) -> dict[str, Difference]:
    """Intervals for differences of whole aggregates: `differences_at(indices)` recomputes
    compressed - dense of every metric in `names` on the items at `indices` (with repeats)."""
    import numpy as np
    from scipy import stats

    if n < 2 or not names:  # one item (one perplexity window) says nothing about its spread
        return {}

    def statistic(idx: Any, axis: int = -1) -> Any:
        rows = np.atleast_2d(np.asarray(idx, dtype=int))
        out = np.array([differences_at(row.tolist()) for row in rows]).T  # (metrics, resamples)
        return out if np.asarray(idx).ndim > 1 else out[:, 0]

    with warnings.catch_warnings():  # a metric constant under resampling is fine: its interval is a point
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        low, high = bootstrap((np.arange(n),), statistic, settings)
    lows, highs = np.atleast_1d(low), np.atleast_1d(high)
    out = {}
    for i, k in enumerate(names):
        lo, hi = float(lows[i]), float(highs[i])
        # NaN: the metric is missing from some resamples (a subset with no items): no interval
        out[k] = Difference(float(point[k]), lo, hi, "paired-bootstrap", n)
    return out


def bootstrap(data: tuple[Any, ...], statistic: Any, settings: StatSettings, *, paired: bool = False) -> Any:
    """`scipy.stats.bootstrap` as every interval here uses it: vectorized, percentile, seeded;
    returns the (low, high) bounds (arrays for a vector-valued statistic)."""
    import numpy as np
    from scipy import stats

    res = stats.bootstrap(
        data,
        statistic,
        paired=paired,
        vectorized=True,
        n_resamples=settings.resamples,
        confidence_level=settings.level,
        method="percentile",
        rng=np.random.default_rng(settings.seed),
    )
    return res.confidence_interval.low, res.confidence_interval.high
