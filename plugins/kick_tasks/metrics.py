"""Pure text metrics shared by the tasks: normalization, exact match, token F1, containment,
the released LLM-KICK code's own metrics (`protocol=paper`: FreebaseQA's substring match, ICRQA's
two-way containment EM and its F1), distinct-n and perplexity. No torch, no I/O."""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Sequence

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCT = set(string.punctuation) | {"‘", "’", "“", "”", "´", "`", "–", "—"}
_WORD = re.compile(r"\w+", re.UNICODE)


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lower-case, drop punctuation and articles, collapse whitespace."""
    text = text.lower()
    text = "".join(" " if ch in _PUNCT else ch for ch in text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def first_line(text: str) -> str:
    """The text up to the first newline, stripped."""
    return text.split("\n", 1)[0].strip()


def exact_match(prediction: str, aliases: Iterable[str]) -> float:
    """1.0 if the normalized prediction equals a normalized alias; an empty prediction is 0."""
    pred = normalize_answer(prediction)
    if not pred:
        return 0.0
    return float(any(pred == normalize_answer(a) for a in aliases if normalize_answer(a)))


def alias_contained(prediction: str, aliases: Iterable[str]) -> float:
    """1.0 if a normalized alias occurs in the normalized prediction as whole words."""
    pred = f" {normalize_answer(prediction)} "
    if not pred.strip():
        return 0.0
    return float(any(f" {n} " in pred for n in (normalize_answer(a) for a in aliases) if n))


def token_f1(prediction: str, aliases: Iterable[str]) -> float:
    """SQuAD token F1, maximum over aliases; empty prediction or alias scores 0."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for alias in aliases:
        gold = normalize_answer(alias).split()
        if not pred or not gold:
            continue
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if same == 0:
            continue
        precision, recall = same / len(pred), same / len(gold)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best


def paper_contains_prompt(prompt: str, generation: str, aliases: Iterable[str]) -> float:
    """LLM-KICK's original FreebaseQA metric, kept for comparison only: an alias (lower-cased,
    spaces removed) is a substring of prompt + generation, so an alias in the question counts."""
    hay = (prompt + generation).lower().replace(" ", "")
    return float(any(a.lower().replace(" ", "") in hay for a in aliases if a.strip()))


def paper_freebase_match(text: str, aliases: Iterable[str]) -> float:
    """The released FreebaseQA check, exactly: `text` (prompt + whole generation) and each alias
    are stripped, lower-cased and have their spaces removed; 1.0 if an alias is a substring.
    An alias that is empty after stripping matches anything, as in the released code."""
    hay = text.strip().replace(" ", "").lower()
    return float(any(a.strip().replace(" ", "").lower() in hay for a in aliases))


_TQA_PUNCT = set(string.punctuation) | {"‘", "’", "´", "`"}


def triviaqa_normalize(text: str) -> str:
    """The TriviaQA evaluation's normalization (the released ICRQA code's): underscores to
    spaces, lower-case, punctuation (its smaller set) to spaces, articles dropped, spaces
    collapsed."""
    text = text.replace("_", " ").lower()
    text = "".join(" " if ch in _TQA_PUNCT else ch for ch in text)
    return " ".join(_ARTICLES.sub(" ", text).split()).strip()


def paper_icrqa_em(prediction: str, aliases: Iterable[str]) -> float:
    """The released ICRQA "exact match": normalized alias in normalized prediction OR the
    prediction in the alias, maximum over aliases -- so an empty prediction counts as correct."""
    pred = triviaqa_normalize(prediction)
    return float(any((g := triviaqa_normalize(a)) in pred or pred in g for a in aliases))


def paper_icrqa_f1(prediction: str, aliases: Iterable[str]) -> float:
    """The released ICRQA token F1 (TriviaQA normalization), maximum over aliases."""
    pred = triviaqa_normalize(prediction).split()
    best = 0.0
    for alias in aliases:
        gold = triviaqa_normalize(alias).split()
        same = sum((Counter(pred) & Counter(gold)).values())
        if same:
            p, r = same / len(pred), same / len(gold)
            best = max(best, 2 * p * r / (p + r))
    return best


def words(text: str) -> list[str]:
    """Lower-cased word tokens (the unit of the distinct-content measures)."""
    return _WORD.findall(text.lower())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(tokens: Sequence[str], n: int) -> float:
    """Unique n-grams / all n-grams (0 for a text with no n-gram)."""
    grams = ngrams(tokens, n)
    return len(set(grams)) / len(grams) if grams else 0.0


def perplexity_from_nll(nll_sum: float, n_tokens: int) -> float:
    """exp(total negative log-likelihood / number of predicted tokens)."""
    if n_tokens <= 0:
        raise ValueError("perplexity needs at least one predicted token")
    return math.exp(nll_sum / n_tokens)


def mean(values: Iterable[float]) -> float:
    vals = list(values)
    return sum(vals) / len(vals) if vals else 0.0
