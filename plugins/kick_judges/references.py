"""A judge's own reference answers (`references=FILE`): JSON lines, one answer per sample id,
in kick's, FastChat's answer or MT-Bench's reference format."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kick import DataError


def _answer_turns(row: Mapping[str, Any]) -> list[str] | None:
    for key in ("turns", "reference", "answer", "text", "output"):
        val = row.get(key)
        if isinstance(val, str) and val:
            return [val]
        if isinstance(val, list) and val and all(isinstance(t, str) for t in val):
            return list(val)
    choices = row.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        return _answer_turns(choices[0])
    return None


def parse_reference_rows(lines: Sequence[str], source: str = "references") -> dict[str, list[str]]:
    """Reference answers from JSON lines: the id is `sample_id`, `question_id` or `id`; the
    answer is `turns`, `reference`, `answer`, `text`, `output` or `choices[0].turns` (the
    FastChat answer and MT-Bench reference formats). A malformed line is a DataError."""
    out: dict[str, list[str]] = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise DataError(f"{source}:{n}: not a JSON line") from None
        sid = (
            next((row[k] for k in ("sample_id", "question_id", "id") if k in row), None)
            if isinstance(row, dict)
            else None
        )
        turns = _answer_turns(row) if isinstance(row, dict) else None
        if sid is None or turns is None:
            raise DataError(f"{source}:{n}: needs an id (sample_id, question_id or id) and an answer text")
        out[str(sid)] = turns
    return out


def load_reference_file(path: str | Path) -> dict[str, list[str]]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"reference answers {p}: {e.strerror or e}") from None
    return parse_reference_rows(text.splitlines(), str(p))
