"""Paired intervals and three-way verdicts: the numbers behind "matches dense"."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sps

from kick.metrics import compare, verdict
from kick.paired import paired_differences
from kick.runner import run
from kick.stats import StatSettings, mcnemar_difference, mean_difference, unpaired_mean_difference
from kick.types import ComponentSpec, ModelSpec, Record, RunSpec

S = StatSettings(resamples=2000, seed=0)


def binary(n_right: int, n: int) -> list[float]:
    return [1.0] * n_right + [0.0] * (n - n_right)


def test_identical_records_give_a_zero_width_interval_at_zero_and_match() -> None:
    for items in (binary(6, 24), [0.2, 0.5, 0.9, 0.4]):
        diff = mean_difference(items, items, S)
        assert (diff.delta, diff.low, diff.high) == (0.0, 0.0, 0.0)
        v = verdict(
            0.25, 0.0, (diff.low, diff.high), n=diff.n, rel_tol=0.05, abs_tol=None, lower_is_better=False
        )
        assert v["verdict"] == "matches" and v["significant"] is False


def test_a_ten_point_drop_is_worse_on_1000_items_and_inconclusive_on_20() -> None:
    dense = binary(600, 1000)
    compressed = [0.0] * 100 + dense[100:]  # 100 right answers lost
    big = mean_difference(dense, compressed, S)
    v = verdict(
        0.6, big.delta, (big.low, big.high), n=big.n, rel_tol=0.05, abs_tol=None, lower_is_better=False
    )
    assert big.delta == pytest.approx(-0.1) and v["verdict"] == "worse" and v["significant"] is True
    small_d = binary(12, 20)
    small_c = [0.0, 0.0] + small_d[2:]  # the same 10-point drop
    small = mean_difference(small_d, small_c, S)
    v = verdict(
        0.6, small.delta, (small.low, small.high), n=20, rel_tol=0.05, abs_tol=None, lower_is_better=False
    )
    assert small.delta == pytest.approx(-0.1) and v["verdict"] == "inconclusive"
    assert v["n_needed"] > 20


def test_the_binary_interval_is_scipys_exact_binomial_interval_on_the_discordant_items() -> None:
    rng = np.random.default_rng(3)
    dense = (rng.random(300) < 0.55).astype(float)
    compressed = np.where(rng.random(300) < 0.15, 1 - dense, dense)
    diff = mean_difference(dense.tolist(), compressed.tolist(), S)
    lost = int(np.sum((dense == 1) & (compressed == 0)))
    gained = int(np.sum((dense == 0) & (compressed == 1)))
    assert (diff.lost, diff.gained, diff.method) == (lost, gained, "mcnemar-exact")
    ci = sps.binomtest(gained, lost + gained).proportion_ci(confidence_level=0.95, method="exact")
    m, n = lost + gained, 300
    assert diff.low == pytest.approx(m / n * (2 * ci.low - 1), abs=1e-9)
    assert diff.high == pytest.approx(m / n * (2 * ci.high - 1), abs=1e-9)
    assert diff.delta == pytest.approx(float(np.mean(compressed) - np.mean(dense)), abs=1e-12)
    # and the McNemar exact test agrees with the interval on significance
    p = sps.binomtest(gained, m).pvalue
    assert (p < 0.05) == (not diff.low <= 0.0 <= diff.high)


def test_the_paired_bootstrap_is_scipys_given_the_same_seed() -> None:
    rng = np.random.default_rng(5)
    dense = rng.random(40)
    compressed = dense - 0.05 + 0.02 * rng.standard_normal(40)
    diff = mean_difference(dense.tolist(), compressed.tolist(), S)
    ref = sps.bootstrap(
        (dense, compressed), lambda x, y, axis: np.mean(y - x, axis=axis), paired=True, vectorized=True,
        n_resamples=2000, confidence_level=0.95, method="percentile", rng=np.random.default_rng(0),
    ).confidence_interval  # fmt: skip
    assert (diff.low, diff.high) == pytest.approx((ref.low, ref.high), abs=1e-9)
    assert diff.method == "paired-bootstrap"


def test_the_paired_interval_is_narrower_than_the_unpaired_on_correlated_items() -> None:
    rng = np.random.default_rng(7)
    dense = rng.random(60)
    compressed = dense - 0.03 + 0.01 * rng.standard_normal(60)  # strongly correlated with dense
    paired = mean_difference(dense.tolist(), compressed.tolist(), S)
    unpaired = unpaired_mean_difference(dense.tolist(), compressed.tolist(), S)
    assert (paired.high - paired.low) * 5 < unpaired.high - unpaired.low
    assert paired.high < 0 < unpaired.high  # the paired test sees the drop, the unpaired one cannot


def test_a_perplexity_rise_beyond_tolerance_is_worse_and_within_it_matches() -> None:
    up = verdict(18.0, 3.0, (2.5, 3.5), n=100, rel_tol=0.05, abs_tol=None, lower_is_better=True)
    assert up["verdict"] == "worse" and up["tolerance"] == pytest.approx(0.9)
    small = verdict(18.0, 0.2, (0.1, 0.3), n=100, rel_tol=0.05, abs_tol=None, lower_is_better=True)
    assert small["verdict"] == "matches" and small["significant"] is True
    down = verdict(18.0, -3.0, (-3.5, -2.5), n=100, rel_tol=0.05, abs_tol=None, lower_is_better=True)
    assert down["verdict"] == "matches"  # better is never worse


def test_the_point_rule_is_kept_for_the_papers_figures() -> None:
    # one item of 6 right answers lost at n=24: the point rule says worse, the data cannot tell
    diff = mcnemar_difference(1, 0, 24, S)
    interval = verdict(0.25, diff.delta, (diff.low, diff.high), n=24, rel_tol=0.05, abs_tol=None,
                       lower_is_better=False)  # fmt: skip
    point = verdict(0.25, diff.delta, (diff.low, diff.high), n=24, rel_tol=0.05, abs_tol=None,
                    lower_is_better=False, rule="point")  # fmt: skip
    assert (interval["verdict"], point["verdict"]) == ("inconclusive", "worse")
    assert interval["significant"] is False and point["rule"] == "point"


def test_compare_takes_the_intervals_and_flips_lost_and_gained_for_lower_is_better() -> None:
    out = compare(
        {"acc": 0.5, "wrong": 0.5, "n": 10},
        {"acc": 0.3, "wrong": 0.7, "n": 10},
        lower_is_better=["wrong"],
        differences={
            "acc": {"interval": [-0.4, -0.05], "method": "mcnemar-exact", "n": 10, "lost": 3, "gained": 1},
            "wrong": {"interval": [0.05, 0.4], "method": "mcnemar-exact", "n": 10, "lost": 1, "gained": 3},
        },
    )
    assert out["acc"]["verdict"] == "worse" and (out["acc"]["lost"], out["acc"]["gained"]) == (
        3,
        1,
    )  # loss >= 0.05 > tau 0.025
    assert (out["wrong"]["lost"], out["wrong"]["gained"]) == (3, 1)
    assert out["n"]["rule"] == "point" and "interval" not in out["n"]


def rec(variant: str, sid: str, score: float, **extra: float) -> Record:
    return Record(variant, "t", sid, "p", "o", None, {"acc": score}, extra=dict(extra))


def test_aggregates_that_are_not_item_means_are_bootstrapped_through_the_tasks_own_aggregation() -> None:
    dense = [rec("dense", f"s{i}", 1.0, nll=1.0 + 0.1 * i, tok=10) for i in range(12)]
    comp = [rec("compressed", f"s{i}", float(i % 2), nll=1.5 + 0.1 * i, tok=10) for i in range(12)]

    def aggregate(records):  # type: ignore[no-untyped-def]
        nll = sum(r.extra["nll"] for r in records)
        tokens = sum(r.extra["tok"] for r in records)
        return {"acc": sum(r.scores["acc"] for r in records) / len(records), "nll_per_token": nll / tokens,
                "tokens": tokens}  # fmt: skip

    diffs = paired_differences(dense, comp, aggregate, S)
    assert diffs["acc"]["method"] == "mcnemar-exact" and diffs["acc"]["lost"] == 6
    assert diffs["nll_per_token"]["method"] == "paired-bootstrap"
    lo, hi = diffs["nll_per_token"]["interval"]
    assert lo == pytest.approx(0.05) and hi == pytest.approx(0.05)  # every item moved by +0.5 nll / 10 tokens
    assert "tokens" not in diffs  # an integer total is not a verdict
    assert paired_differences(dense, comp, aggregate, S) == diffs  # seeded: the same twice


def test_a_run_records_intervals_verdicts_and_how_they_were_computed(tmp_path: Path, plugins) -> None:  # type: ignore[no-untyped-def]
    spec = RunSpec(
        ModelSpec("fake-model"), (ComponentSpec("fake-qa"),), ComponentSpec("fake-prune", {"sparsity": 0.5})
    )
    s = run(spec, tmp_path / "r", plugins=plugins, resamples=500)
    acc = s["tasks"]["fake-qa"]["comparison"]["accuracy"]
    assert acc["method"] == "mcnemar-exact" and acc["n"] == 10
    assert (acc["gained"] - acc["lost"]) / 10 == pytest.approx(acc["delta"])  # flips are exact
    assert acc["verdict"] in ("matches", "inconclusive", "worse") and acc["rule"] == "interval"
    assert s["statistics"]["resamples"] == 500 and s["statistics"]["seed"] == 0
    again = run(spec, tmp_path / "r", plugins=plugins, mode="overwrite", resamples=500)
    assert again["tasks"]["fake-qa"]["comparison"] == s["tasks"]["fake-qa"]["comparison"]
    point = run(spec, tmp_path / "p", plugins=plugins, verdict="point")
    assert point["tasks"]["fake-qa"]["comparison"]["accuracy"]["rule"] == "point"


def test_items_needed_uses_the_side_of_the_interval_that_straddles_the_tolerance() -> None:
    from kick.metrics import items_needed

    # below tau: the upper bound must shrink from 0.03 above the loss to 0.02 (tau - loss)
    assert items_needed(0.03, 0.0, 0.06, 0.05, 100) == 225
    # above tau, lopsided (an exact McNemar interval with nothing gained): the lower side decides
    assert items_needed(0.208, -0.009, 0.208, 0.0125, 24) == 30
    assert items_needed(0.05, 0.0, 0.1, 0.05, 100) is None  # on the tolerance: no n decides it


def test_a_single_paired_item_gets_no_interval_and_the_point_rule_says_so() -> None:
    one_d, one_c = [rec("dense", "s0", 1.0)], [rec("compressed", "s0", 0.0)]

    def aggregate(records):  # type: ignore[no-untyped-def]
        return {"acc": sum(r.scores["acc"] for r in records) / len(records)}

    assert paired_differences(one_d, one_c, aggregate, S) == {}
    out = compare({"acc": 1.0}, {"acc": 0.0}, differences={})
    assert out["acc"]["rule"] == "point" and out["acc"]["verdict"] == "worse"
