"""Turning parsed replies into a Judgement's scores. Pure functions.

Pairwise: each order's parsed pairs are first mapped to (judged answer, reference) by the
position the judged answer had; the final score per criterion is the mean over orders, the
reference's score is stored as `<criterion>_ref`, and `inconsistent` is 1.0 when the orders
disagree on which answer is better (a win in one order and a tie or a loss in the other count).
With the FastChat rule (`inconsistent="tie"`), an inconsistent item is a tie: the answer and the
reference both get the mean of their two scores on each criterion.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

ANSWER_FIRST = "answer-first"  # the judged answer is Assistant 1
REFERENCE_FIRST = "reference-first"  # the reference is Assistant 1 (LLM-KICK's original order)


def orient(parsed: Mapping[str, tuple[float, ...]], order: str) -> dict[str, tuple[float, float]]:
    """{criterion: (assistant 1, assistant 2)} -> {criterion: (answer, reference)}."""
    if order == ANSWER_FIRST:
        return {c: (p[0], p[1]) for c, p in parsed.items()}
    if order == REFERENCE_FIRST:
        return {c: (p[1], p[0]) for c, p in parsed.items()}
    raise ValueError(f"unknown order {order!r}")


def preference(oriented: Mapping[str, tuple[float, float]]) -> int:
    """+1 when the answer wins over all criteria (summed), -1 when the reference wins, 0 a tie."""
    margin = sum(a - r for a, r in oriented.values())
    return (margin > 0) - (margin < 0)


def combine_orders(orders: Sequence[Mapping[str, tuple[float, float]]]) -> dict[str, float]:
    """Mean over orders of each criterion's (answer, reference) scores, plus `inconsistent`
    when there are two or more orders."""
    if not orders:
        raise ValueError("no order to combine")
    criteria = list(orders[0])
    if any(list(o) != criteria for o in orders[1:]):
        raise ValueError("orders were scored on different criteria")
    out: dict[str, float] = {}
    for c in criteria:
        out[c] = sum(o[c][0] for o in orders) / len(orders)
        out[f"{c}_ref"] = sum(o[c][1] for o in orders) / len(orders)
    if len(orders) >= 2:
        out["inconsistent"] = 0.0 if len({preference(o) for o in orders}) == 1 else 1.0
    return out


def combine_turns(ratings: Mapping[int, float], suffix: str = "") -> dict[str, float]:
    """Single grading: `rating` is the mean over graded turns; with several turns each is
    also kept as `rating_t<turn>`. `suffix` ("_ref") names the reference answer's ratings."""
    if not ratings:
        raise ValueError("no rating to combine")
    out = {"rating" + suffix: sum(ratings.values()) / len(ratings)}
    if len(ratings) > 1:
        out.update({f"rating_t{t}{suffix}": r for t, r in sorted(ratings.items())})
    return out


INCONSISTENT_RULES = ("average", "tie")


def apply_inconsistent_rule(scores: dict[str, float], rule: str) -> dict[str, float]:
    """`average` keeps the mean over orders; `tie` (FastChat: a position-inconsistent verdict is a
    tie) gives answer and reference the same score, their mean, on every criterion."""
    if rule not in INCONSISTENT_RULES:
        raise ValueError(f"unknown inconsistent rule {rule!r}")
    if rule == "average" or scores.get("inconsistent") != 1.0:
        return scores
    out = dict(scores)
    for key in [k for k in scores if k + "_ref" in scores]:
        out[key] = out[key + "_ref"] = (scores[key] + scores[key + "_ref"]) / 2
    return out
