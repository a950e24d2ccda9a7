"""The few numeric rules every summary, report and console view shares, each written once:
what counts as a number, NaN/inf in JSON, the headline metrics of a task, and the
dense-vs-compressed comparison."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

COUNTERS = ("n", "errors")
"""Metrics that count items rather than measure quality: shown, never compared or marked."""


def is_number(x: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def as_number(x: Any) -> float | None:
    """`x` as a float when it is a number (see `is_number`), else None."""
    return float(x) if is_number(x) else None


def clean_number(x: Any) -> Any:
    """NaN/inf are not JSON: they become None (and are reported as missing)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def headline_metrics(
    metrics: Mapping[str, Any], primary: str | None, *, limit: int | None = None
) -> list[str]:
    """The metrics worth a column: numeric, not a counter, not a per-subject/bucket breakdown
    (names with '/'), the task's primary metric first."""
    names = [k for k, v in metrics.items() if is_number(v) and "/" not in k and k not in COUNTERS]
    if primary in names:
        names.remove(primary)
        names.insert(0, primary)
    return names[:limit] if limit is not None else names


VerdictRule = Literal["interval", "point"]
VERDICTS = ("matches", "inconclusive", "worse")


def tolerance(dense: float, rel_tol: float, abs_tol: float | None) -> float:
    """How much worse than dense still counts as matching: `rel_tol` of the dense value, or
    `abs_tol` absolute when that is larger."""
    return max(rel_tol * abs(dense), abs_tol or 0.0)


def verdict(
    dense: float,
    delta: float,
    interval: Sequence[float] | None,
    *,
    n: int | None,
    rel_tol: float,
    abs_tol: float | None,
    lower_is_better: bool,
    rule: VerdictRule = "interval",
) -> dict[str, Any]:
    """Whether compressed matches dense on one metric, given `delta` = compressed - dense and
    the paired interval of `delta` over `n` items.

    The loss is how much worse compressed is (delta with the sign of the metric's direction);
    tau is the tolerance. `matches` when the whole interval of the loss is within tau (an
    equivalence test), `worse` when all of it is beyond tau, else `inconclusive`, with the
    number of items that would decide it estimated from the interval's half-width (which
    shrinks as 1/sqrt(n)). `significant`: the interval excludes 0. The `point` rule (the
    paper's, and kick 0.1's) compares the point loss with tau alone, blind to n."""
    tau = tolerance(dense, rel_tol, abs_tol)
    sign = 1.0 if lower_is_better else -1.0
    loss = sign * delta
    if rule == "point" or interval is None:
        state = "matches" if loss <= tau else "worse"
        return {"verdict": state, "matches": state == "matches", "rule": "point", "tolerance": tau}
    lo, hi = sorted((sign * interval[0], sign * interval[1]))
    out: dict[str, Any] = {"rule": "interval", "tolerance": tau, "significant": not (lo <= 0.0 <= hi)}
    if hi <= tau:
        out["verdict"] = "matches"
    elif lo > tau:
        out["verdict"] = "worse"
    else:
        out["verdict"] = "inconclusive"
        out["n_needed"] = items_needed(loss, lo, hi, tau, n)
    out["matches"] = out["verdict"] == "matches"
    return out


def items_needed(loss: float, lo: float, hi: float, tau: float, n: int | None) -> int | None:
    """Items needed for the loss interval to clear tau, assuming it shrinks as 1/sqrt(n) about
    the point loss: the side that straddles tau (the upper bound when the loss is below tau, the
    lower one when above) must come within the point's distance to tau. None when the loss sits
    exactly on tau (no n decides it) or n is unknown."""
    if not n or loss == tau:
        return None
    reach, gap = (hi - loss, tau - loss) if loss < tau else (loss - lo, loss - tau)
    if reach <= 0.0:
        return None
    return max(n + 1, math.ceil(n * (reach / gap) ** 2))


def compare(
    dense: Mapping[str, Any],
    compressed: Mapping[str, Any],
    *,
    rel_tol: float = 0.05,
    abs_tol: float | None = None,
    lower_is_better: Iterable[str] = (),
    differences: Mapping[str, Mapping[str, Any]] | None = None,
    rule: VerdictRule = "interval",
) -> dict[str, dict[str, Any]]:
    """Per numeric metric: dense, compressed, absolute and relative delta, and the verdict.

    `differences` gives, per metric, the paired interval of compressed - dense (`interval`,
    `method`, `n`, and for binary metrics `lost` / `gained`, see `kick.stats`); a metric
    without one is judged by the point rule and says so (`rule: point`)."""
    lower = set(lower_is_better)
    out: dict[str, dict[str, Any]] = {}
    for key, d in dense.items():
        c = compressed.get(key)
        if not is_number(d) or not is_number(c):
            continue
        delta = c - d
        diff = dict((differences or {}).get(key) or {})
        if key in lower and "lost" in diff:  # for a lower-is-better 0/1 score, 0 is the right answer
            diff["lost"], diff["gained"] = diff["gained"], diff["lost"]
        entry: dict[str, Any] = {
            "dense": d,
            "compressed": c,
            "delta": delta,
            "rel_delta": delta / abs(d) if d else None,
            "lower_is_better": key in lower,
            **diff,
        }
        entry.update(
            verdict(
                d, delta, diff.get("interval"), n=diff.get("n"), rel_tol=rel_tol, abs_tol=abs_tol,
                lower_is_better=key in lower, rule=rule,
            )
        )  # fmt: skip
        out[key] = entry
    return out
