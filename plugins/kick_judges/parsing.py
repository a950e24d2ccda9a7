"""Strict parsers for judge replies, one per reply format. Pure functions.

A parser returns the scores it read or raises `ParseError` with a short reason; it never
guesses and never returns a sentinel. The shapes accepted are the ones real GPT-4 reviews take
in LLM-KICK's released evaluation files ("8 7", "8, 7", "(8, 7)", "9.5/10 for Assistant 1, 9/10
for Assistant 2", four score lines for the summary criteria, a Python tuple at the end of a math
review) and MT-Bench's "Rating: [[7]]". Scores must lie on the prompts' 1-10 scale: a 0 or an 11 is a reply that does not parse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kick_judges.templates import CRITERIA_LINES, PAIR_LINE, PAIR_TUPLE, RATING, SUMMARY_CRITERIA

_NUM = r"(\d+(?:\.\d+)?)"
_PAIR = rf"\(?\s*{_NUM}\s*(?:/\s*10\s*)?(?:,|;|\s)\s*{_NUM}\s*(?:/\s*10\s*)?\)?"
_PAIR_RE = re.compile(rf"^{_PAIR}[.\s]*$")
_FOR_RE = re.compile(
    rf"^{_NUM}\s*/\s*10\s+for\s+assistant\s*1\s*[,;]?\s*(?:and\s+)?{_NUM}\s*/\s*10\s+for\s+assistant\s*2\b.*$",
    re.IGNORECASE,
)
_LABELLED_RE = re.compile(rf"^[*#\-\s]*([A-Za-z][A-Za-z ]*?)\s*\**\s*[:\-]\s*\**\s*{_PAIR}[.\s]*$")
_TUPLE_RE = re.compile(rf"\(\s*{_NUM}\s*,\s*{_NUM}\s*\)")
_ASSISTANT_RE = re.compile(rf"assistant\s*([12])\s*:\s*{_NUM}(?:\s*/\s*10)?", re.IGNORECASE)
_RATING_RE = re.compile(rf"\[\[\s*{_NUM}\s*\]\]")
_RATING_BACKUP_RE = re.compile(rf"\[\s*{_NUM}\s*\]")

MIN_SCORE, MAX_SCORE = 1.0, 10.0


class ParseError(ValueError):
    """A judge reply does not have the format its prompt asked for."""


def _score(text: str) -> float:
    value = float(text)
    if not MIN_SCORE <= value <= MAX_SCORE:
        raise ParseError(f"score {text} is outside [{MIN_SCORE:g}, {MAX_SCORE:g}]")
    return value


def _lines(text: str) -> list[str]:
    return [ln.strip() for ln in text.strip().splitlines() if ln.strip()]


def _pair_in_line(line: str) -> tuple[float, float] | None:
    """The two scores when `line` is nothing but a score pair, else None."""
    for regex in (_PAIR_RE, _FOR_RE):
        m = regex.match(line)
        if m:
            return _score(m.group(1)), _score(m.group(2))
    return None


def parse_pair_line(text: str) -> tuple[float, float]:
    """Scores of Assistant 1 and 2 from the reply's first line: "8 7", "8, 7", "(8, 7)",
    "8.5/10 for Assistant 1, 9/10 for Assistant 2"."""
    lines = _lines(text)
    if not lines:
        raise ParseError("empty reply")
    pair = _pair_in_line(lines[0])
    if pair is None:
        raise ParseError(f"first line is not two scores: {lines[0][:80]!r}")
    return pair


def parse_pair_tuple(text: str) -> tuple[float, float]:
    """Scores from the math prompt's reply: its last "(s1, s2)" tuple; else one
    "Assistant 1: s1" and one "Assistant 2: s2" line; else a score pair on the first line."""
    tuples = _TUPLE_RE.findall(text)
    if tuples:
        a, b = tuples[-1]
        return _score(a), _score(b)
    labelled: dict[str, list[str]] = {"1": [], "2": []}
    for who, value in _ASSISTANT_RE.findall(text):
        labelled[who].append(value)
    if len(labelled["1"]) == 1 and len(labelled["2"]) == 1:
        return _score(labelled["1"][0]), _score(labelled["2"][0])
    try:
        return parse_pair_line(text)
    except ParseError:
        raise ParseError("no (score1, score2) tuple in the reply") from None


def _criterion_for(label: str, criteria: Sequence[str]) -> str | None:
    key = label.strip().lower()[:5]
    matches = [c for c in criteria if c[:5] == key]
    return matches[0] if len(matches) == 1 else None


def parse_criteria_lines(
    text: str, criteria: Sequence[str] = SUMMARY_CRITERIA
) -> dict[str, tuple[float, float]]:
    """One score pair per criterion from the reply's first lines, in the prompt's order
    ("8 7" lines), or labelled in any order ("Coherence: 8 7")."""
    lines = _lines(text)
    n = len(criteria)
    if len(lines) < n:
        raise ParseError(f"expected {n} score lines, the reply has {len(lines)} lines")
    positional: list[tuple[float, float]] = []
    labelled: dict[str, tuple[float, float]] = {}
    for i, line in enumerate(lines[:n]):
        pair = _pair_in_line(line)
        if pair is not None:
            positional.append(pair)
            continue
        m = _LABELLED_RE.match(line)
        crit = _criterion_for(m.group(1), criteria) if m else None
        if m is None or crit is None:
            raise ParseError(f"line {i + 1} is not a score pair: {line[:80]!r}")
        if crit in labelled:
            raise ParseError(f"criterion {crit!r} is given twice")
        labelled[crit] = (_score(m.group(2)), _score(m.group(3)))
    if positional and labelled:
        raise ParseError("score lines mix labelled and unlabelled pairs")
    if labelled:
        return {c: labelled[c] for c in criteria}
    return dict(zip(criteria, positional, strict=True))


def parse_rating(text: str) -> float:
    """MT-Bench single grading: the last "[[r]]" (FastChat's backup "[r]" if there is none)."""
    found = _RATING_RE.findall(text) or _RATING_BACKUP_RE.findall(text)
    if not found:
        raise ParseError("no [[rating]] in the reply")
    return _score(found[-1])


def parse_reply(fmt: str, text: str) -> dict[str, tuple[float, ...]]:
    """Dispatch on the reply format: criterion -> scores (one per assistant, or one rating)."""
    if fmt == PAIR_LINE:
        return {"overall": parse_pair_line(text)}
    if fmt == PAIR_TUPLE:
        return {"overall": parse_pair_tuple(text)}
    if fmt == CRITERIA_LINES:
        return dict(parse_criteria_lines(text))
    if fmt == RATING:
        return {"rating": (parse_rating(text),)}
    raise ValueError(f"unknown reply format {fmt!r}")
