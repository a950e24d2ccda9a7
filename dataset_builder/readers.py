"""Pure readers for the raw LLM-KICK sources in their original formats: path in, records out.

Readers do no curation beyond parsing; they raise `kick.errors.DataError` naming the file and
line (`path:line: what is wrong`) for any malformed input, never a bare traceback, never a
silently dropped row.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.errors import DataError

# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class FreebaseParse:
    topic_entity_mention: str
    topic_entity_name: str
    inferential_chain: str
    answer_names: tuple[str, ...]


@dataclass(frozen=True)
class FreebaseQuestion:
    question_id: str
    question: str
    parses: tuple[FreebaseParse, ...]


@dataclass(frozen=True)
class FreebaseTabRow:
    line: int
    subject_mention: str
    freebase_name: str
    subject_mid: str
    predicate: str
    secondary_predicate: str | None
    answer_mid: str
    answer: str
    question: str


@dataclass(frozen=True)
class QAPair:
    line: int
    question: str
    answer: str


@dataclass(frozen=True)
class MMLURow:
    line: int
    question: str
    choices: tuple[str, str, str, str]
    answer: str


@dataclass(frozen=True)
class Evidence:
    title: str
    filename: str
    source: str  # "wikipedia" or "web"
    text: str | None  # None when the evidence text is not available


@dataclass(frozen=True)
class TriviaQAQuestion:
    question_id: str
    question: str
    value: str
    aliases: tuple[str, ...]
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class NQOracleRow:
    line: int
    question: str
    answers: tuple[str, ...]
    context_title: str
    context: str


@dataclass(frozen=True)
class SquadQuestion:
    question_id: str
    title: str
    context: str
    question: str
    answers: tuple[str, ...]


@dataclass(frozen=True)
class Story:
    story_id: str
    paragraphs: tuple[str, ...]
    highlights: tuple[str, ...]


@dataclass(frozen=True)
class VicunaQuestion:
    question_id: int
    category: str
    text: str


@dataclass(frozen=True)
class ModelAnswer:
    question_id: int
    model_id: str
    turns: tuple[str, ...]


@dataclass(frozen=True)
class MTBenchQuestion:
    question_id: int
    category: str
    turns: tuple[str, ...]
    reference: tuple[str, ...] = ()  # inline reference turns (some FastChat questions carry them)


# --------------------------------------------------------------------------- helpers


def _where(path: Path | str, line: int) -> str:
    return f"{path}:{line}"


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise DataError(f"{_where(path, line)}: not valid UTF-8") from None


def _load_json(path: Path) -> Any:
    text = _read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{_where(path, e.lineno)}: invalid JSON ({e.msg})") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSON-lines file."""
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{_where(path, n)}: invalid JSON ({e.msg})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{_where(path, n)}: expected a JSON object, got {type(obj).__name__}")
        yield n, obj


def require_field(obj: dict[str, Any], key: str, kind: type, where: object) -> Any:
    """`obj[key]`, checked to be a `kind` (str, int, list, dict; anything else is not checked)."""
    if key not in obj:
        raise DataError(f"{where}: missing field {key!r}")
    value = obj[key]
    if kind is str and not isinstance(value, str):
        raise DataError(f"{where}: field {key!r} should be a string, got {type(value).__name__}")
    if kind is int and (not isinstance(value, int) or isinstance(value, bool)):
        raise DataError(f"{where}: field {key!r} should be an integer, got {type(value).__name__}")
    if kind is list and not isinstance(value, list):
        raise DataError(f"{where}: field {key!r} should be a list, got {type(value).__name__}")
    if kind is dict and not isinstance(value, dict):
        raise DataError(f"{where}: field {key!r} should be an object, got {type(value).__name__}")
    return value


def require_str_list(obj: dict[str, Any], key: str, where: object) -> tuple[str, ...]:
    values = require_field(obj, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise DataError(f"{where}: field {key!r} should be a list of strings")
    return tuple(values)


class _JsonSpot:
    """A lazily located position in a JSON document (`path:line: label`): the line of the first
    occurrence of `needle`, computed only when an error message is actually formatted."""

    def __init__(self, path: Path, raw: str, needle: str, label: str) -> None:
        self.path, self.raw, self.needle, self.label = path, raw, needle, label

    def __str__(self) -> str:
        pos = self.raw.find(self.needle)
        line = self.raw.count("\n", 0, pos) + 1 if pos >= 0 else 1
        return f"{self.path}:{line}: {self.label}"


def _unquote_csv_field(field: str) -> str:
    """Undo CSV quoting (`"a ""b"" c"` -> `a "b" c`) when the whole field is quoted, i.e. it
    starts and ends with a quote and every quote inside is doubled."""
    inner = field[1:-1]
    if len(field) >= 2 and field[0] == field[-1] == '"' and '"' not in inner.replace('""', ""):
        return inner.replace('""', '"')
    return field


# --------------------------------------------------------------------------- FreebaseQA


def read_freebaseqa_json(path: Path) -> list[FreebaseQuestion]:
    """FreebaseQA in the official 2019 JSON layout (`{"Questions": [{"Question-ID", "RawQuestion",
    "Parses": [{"Answers": [{"AnswersName": [...]}]}]}]}`); the derived `*.v1_1.json` use it too."""
    doc = _load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("Questions"), list):
        raise DataError(
            f"{_where(path, 1)}: expected an object with a 'Questions' list (FreebaseQA 2019 layout)"
        )
    raw = _read_text(path)
    out: list[FreebaseQuestion] = []
    for i, q in enumerate(doc["Questions"]):
        where: object = f"{path}: question #{i}"
        if not isinstance(q, dict):
            raise DataError(f"{where}: expected an object")
        qid = require_field(q, "Question-ID", str, where)
        where = _JsonSpot(path, raw, json.dumps(qid), f"question {qid}")
        parses = []
        for p in require_field(q, "Parses", list, where):
            if not isinstance(p, dict):
                raise DataError(f"{where}: a parse is not an object")
            names: list[str] = []
            for a in require_field(p, "Answers", list, where):
                if not isinstance(a, dict):
                    raise DataError(f"{where}: an answer is not an object")
                names.extend(require_str_list(a, "AnswersName", where))
            parses.append(
                FreebaseParse(
                    topic_entity_mention=str(p.get("PotentialTopicEntityMention", "")),
                    topic_entity_name=str(p.get("TopicEntityName", "")),
                    inferential_chain=str(p.get("InferentialChain", "")),
                    answer_names=tuple(names),
                )
            )
        if not parses:
            raise DataError(f"{where}: no parses")
        out.append(FreebaseQuestion(qid, require_field(q, "RawQuestion", str, where), tuple(parses)))
    return out


def parse_freebaseqa_txt_line(line: str, where: str) -> tuple[str, str]:
    """One `question | answer` line of the FreebaseQA `.txt` release (question CSV-quoted when it
    contains quotes; a question that merely starts with a quote is not quoted)."""
    parts = line.split(" | ")
    if len(parts) != 2:
        raise DataError(f"{where}: expected 'question | answer', found {len(parts) - 1} separators")
    question, answer = _unquote_csv_field(parts[0].strip()), parts[1]
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise DataError(f"{where}: empty question or answer")
    return question, answer


def read_freebaseqa_txt(path: Path) -> list[QAPair]:
    """FreebaseQA `.txt` release: one `question | answer` pair per line."""
    out = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        q, a = parse_freebaseqa_txt_line(line, _where(path, n))
        out.append(QAPair(n, q, a))
    return out


def read_freebaseqa_tab(path: Path) -> list[FreebaseTabRow]:
    """FreebaseQA `.tab` release: 8 tab-separated fields per row, one row per parse."""
    out = []
    for n, line in enumerate(_read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        f = line.split("\t")
        if len(f) != 8:
            raise DataError(f"{_where(path, n)}: expected 8 tab-separated fields, found {len(f)}")
        question = _unquote_csv_field(f[7]).strip()
        if not question or not f[6].strip():
            raise DataError(f"{_where(path, n)}: empty question or answer")
        out.append(
            FreebaseTabRow(
                n, f[0], f[1], f[2], f[3], None if f[4] == "null" else f[4], f[5], f[6].strip(), question
            )
        )
    return out


def group_freebaseqa_tab(rows: list[FreebaseTabRow], split: str) -> list[FreebaseQuestion]:
    """Group `.tab` rows by question text (file order), one parse per row, like the 2019 JSON."""
    grouped: dict[str, list[FreebaseTabRow]] = {}
    for r in rows:
        grouped.setdefault(r.question, []).append(r)
    return [
        FreebaseQuestion(
            f"FreebaseQA-tab-{split}-{i}",
            question,
            tuple(
                FreebaseParse(
                    r.subject_mention,
                    r.freebase_name,
                    r.predicate
                    if r.secondary_predicate is None
                    else f"{r.predicate}..{r.secondary_predicate}",
                    (r.answer,),
                )
                for r in group
            ),
        )
        for i, (question, group) in enumerate(grouped.items())
    ]


# --------------------------------------------------------------------------- MMLU


def read_mmlu_csv(path: Path) -> list[MMLURow]:
    """One MMLU `<subject>_<split>.csv`: no header, 6 columns `question,A,B,C,D,answer`."""
    text = _read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    out = []
    start = 1  # first physical line of the record being read (quoted fields may span lines)
    try:
        for row in reader:
            line, start = start, reader.line_num + 1
            where = _where(path, line)
            if not row:
                continue
            if len(row) != 6:
                raise DataError(
                    f"{where}: expected 6 columns (question, A, B, C, D, answer), found {len(row)}"
                )
            answer = row[5].strip()
            if answer not in ("A", "B", "C", "D"):
                raise DataError(f"{where}: answer must be one of A-D, found {row[5]!r}")
            out.append(MMLURow(line, row[0], (row[1], row[2], row[3], row[4]), answer))
    except csv.Error as e:
        raise DataError(f"{_where(path, reader.line_num)}: malformed CSV ({e})") from None
    return out


# --------------------------------------------------------------------------- TriviaQA


def _read_evidence(evidence_dir: Path | None, sub: str, filename: str) -> str | None:
    if evidence_dir is None:
        return None
    p = evidence_dir / sub / filename
    return p.read_text(encoding="utf-8") if p.is_file() else None


def read_triviaqa_json(path: Path, evidence_dir: Path | None = None) -> list[TriviaQAQuestion]:
    """TriviaQA rc JSON (`{"Data": [{"Question", "QuestionId", "Answer": {"Value", "Aliases"},
    "EntityPages", "SearchResults"}]}`). Evidence text is taken inline when present (`Text` or
    `wiki_context`/`search_context` style fields) or from `evidence_dir/{wikipedia,web}/<Filename>`;
    otherwise `Evidence.text` is None."""
    doc = _load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("Data"), list):
        raise DataError(f"{_where(path, 1)}: expected an object with a 'Data' list (TriviaQA rc layout)")
    raw = _read_text(path)
    out = []
    for i, q in enumerate(doc["Data"]):
        where: object = f"{path}: question #{i}"
        if not isinstance(q, dict):
            raise DataError(f"{where}: expected an object")
        qid = require_field(q, "QuestionId", str, where)
        where = _JsonSpot(path, raw, json.dumps(qid), f"question {qid}")
        ans = require_field(q, "Answer", dict, where)
        evidence: list[Evidence] = []
        for key, sub, source in (("EntityPages", "wikipedia", "wikipedia"), ("SearchResults", "web", "web")):
            for page in q.get(key, []) or []:
                if not isinstance(page, dict):
                    raise DataError(f"{where}: an entry of {key!r} is not an object")
                filename = str(page.get("Filename", ""))
                text = page.get("Text") or page.get(
                    "wiki_context" if source == "wikipedia" else "search_context"
                )
                if text is None:
                    text = _read_evidence(evidence_dir, sub, filename)
                evidence.append(Evidence(str(page.get("Title", "")), filename, source, text))
        out.append(
            TriviaQAQuestion(
                qid,
                require_field(q, "Question", str, where),
                require_field(ans, "Value", str, where),
                require_str_list(ans, "Aliases", where),
                tuple(evidence),
            )
        )
    return out


# --------------------------------------------------------------------------- NQ-Open oracle


def read_nq_open_oracle(path: Path) -> list[NQOracleRow]:
    """`nq-open-oracle.jsonl` (lost-in-the-middle): question, answers, `ctxs[0]` = gold passage."""
    out = []
    for n, obj in iter_jsonl(path):
        where = _where(path, n)
        ctxs = require_field(obj, "ctxs", list, where)
        if not ctxs or not isinstance(ctxs[0], dict):
            raise DataError(f"{where}: 'ctxs' must hold the gold passage")
        gold = ctxs[0]
        out.append(
            NQOracleRow(
                n,
                require_field(obj, "question", str, where),
                require_str_list(obj, "answers", where),
                require_field(gold, "title", str, where),
                require_field(gold, "text", str, where),
            )
        )
    return out


# --------------------------------------------------------------------------- SQuAD v1.1


def read_squad_json(path: Path) -> list[SquadQuestion]:
    """SQuAD v1.1 JSON (`answer_start` optional, as in the explorer-derived file)."""
    doc = _load_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise DataError(f"{_where(path, 1)}: expected an object with a 'data' list (SQuAD layout)")
    out = []
    for a_i, article in enumerate(doc["data"]):
        where = f"{path}: article #{a_i}"
        if not isinstance(article, dict):
            raise DataError(f"{where}: expected an object")
        title = require_field(article, "title", str, where)
        for paragraph in require_field(article, "paragraphs", list, where):
            if not isinstance(paragraph, dict):
                raise DataError(f"{where}: a paragraph is not an object")
            context = require_field(paragraph, "context", str, where)
            for qa in require_field(paragraph, "qas", list, where):
                if not isinstance(qa, dict):
                    raise DataError(f"{where}: a question is not an object")
                qid = require_field(qa, "id", str, where)
                answers = []
                for ans in require_field(qa, "answers", list, f"{where}: question {qid}"):
                    if not isinstance(ans, dict):
                        raise DataError(f"{where}: question {qid}: an answer is not an object")
                    answers.append(require_field(ans, "text", str, f"{where}: question {qid}"))
                out.append(
                    SquadQuestion(qid, title, context, require_field(qa, "question", str, where), tuple(answers))
                )
    return out


# --------------------------------------------------------------------------- CNN/DailyMail


def parse_story(text: str, story_id: str, path: Path | str) -> Story:
    """A `.story` file: article paragraphs, then `@highlight` lines each followed by one summary
    bullet. Empty lines are separators."""
    paragraphs: list[str] = []
    highlights: list[str] = []
    pending: int | None = None  # line of an @highlight still waiting for its text
    lines = text.replace("\r\n", "\n").split("\n")
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line == "@highlight":
            if pending is not None:
                raise DataError(f"{_where(path, pending)}: '@highlight' without a summary line")
            pending = n
        elif pending is not None:
            highlights.append(line)
            pending = None
        elif highlights:
            raise DataError(f"{_where(path, n)}: article text after the highlights")
        else:
            paragraphs.append(line)
    if pending is not None:
        raise DataError(f"{_where(path, pending)}: '@highlight' without a summary line")
    if not paragraphs:
        raise DataError(f"{_where(path, 1)}: empty story (no article text before the highlights)")
    if not highlights:
        raise DataError(f"{_where(path, len(lines))}: story has no '@highlight' reference summary")
    return Story(story_id, tuple(paragraphs), tuple(highlights))


def read_story(path: Path) -> Story:
    """One CNN/DailyMail `.story` file; its id is the file stem (the URL hash)."""
    return parse_story(_read_text(path), path.stem, path)


# --------------------------------------------------------------------------- Vicuna-80, MT-Bench


def read_vicuna_questions(path: Path) -> list[VicunaQuestion]:
    """Vicuna-bench `question.jsonl` (FastChat 2023): `{"question_id", "text", "category"}`."""
    return [
        VicunaQuestion(
            require_field(o, "question_id", int, _where(path, n)),
            require_field(o, "category", str, _where(path, n)),
            require_field(o, "text", str, _where(path, n)),
        )
        for n, o in iter_jsonl(path)
    ]


def _model_id(o: dict[str, Any], where: str) -> str:
    return require_field(o, "model_id", str, where) if "model_id" in o else ""


def read_vicuna_answers(path: Path) -> list[ModelAnswer]:
    """FastChat 2023 answer table: `{"question_id", "model_id", "text"}` (single turn; `model_id`
    optional, "" when absent)."""
    return [
        ModelAnswer(
            require_field(o, "question_id", int, _where(path, n)),
            _model_id(o, _where(path, n)),
            (require_field(o, "text", str, _where(path, n)),),
        )
        for n, o in iter_jsonl(path)
    ]


def read_mt_bench_questions(path: Path) -> list[MTBenchQuestion]:
    """MT-Bench `question.jsonl`: `{"question_id", "category", "turns": [t1, t2]}`, optionally
    `"reference": [r1, r2]`."""
    return [
        MTBenchQuestion(
            require_field(o, "question_id", int, _where(path, n)),
            require_field(o, "category", str, _where(path, n)),
            require_str_list(o, "turns", _where(path, n)),
            require_str_list(o, "reference", _where(path, n)) if "reference" in o else (),
        )
        for n, o in iter_jsonl(path)
    ]


def read_answers(path: Path) -> list[ModelAnswer]:
    """Either answer layout, told apart by the first row: `text` (FastChat 2023 table) or
    `choices` (FastChat llm_judge)."""
    first = next((o for _, o in iter_jsonl(path)), {})
    return read_vicuna_answers(path) if "text" in first else read_mt_bench_answers(path)


def read_mt_bench_answers(path: Path) -> list[ModelAnswer]:
    """FastChat llm_judge answers (e.g. `reference_answer/gpt-4.jsonl`): turns of `choices[0]`
    (`model_id` optional, "" when absent)."""
    out = []
    for n, o in iter_jsonl(path):
        where = _where(path, n)
        choices = require_field(o, "choices", list, where)
        if not choices or not isinstance(choices[0], dict):
            raise DataError(f"{where}: 'choices' must hold at least one answer")
        out.append(
            ModelAnswer(
                require_field(o, "question_id", int, where),
                _model_id(o, where),
                require_str_list(choices[0], "turns", where),
            )
        )
    return out


# --------------------------------------------------------------------------- WikiText-2


def read_wikitext_raw(path: Path) -> list[str]:
    """WikiText-2 raw (`wiki.test.raw`, CRLF or LF line endings): the lines, without terminators."""
    text = _read_text(path).replace("\r\n", "\n")
    if "\r" in text:
        line = text[: text.index("\r")].count("\n") + 1
        raise DataError(f"{_where(path, line)}: stray carriage return (mixed line endings)")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines
