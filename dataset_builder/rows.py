"""Rows for the tasks: whatever a task's `data` names, as normalized schema rows plus provenance.

`data` values (every task):
  - `smoke`   the task's built-in smoke-test set (the task passes its file);
  - `shared`  the real raw data in the shared data folder (`shared_data_dir()`), at the
              dataset's default path (`DATASETS[name].shared`);
  - a path    a raw file/folder in its original format, or a folder built by `kick data build`
              (recognised by its `<config>/` sub-folder of Parquet shards);
  - `owner/name` a Hugging Face Hub dataset id in the normalized schema (`dataset_builder.schema`).

    source = resolve("mmlu", "shared", smoke=SMOKE_DIR / "mmlu.json")   # checks, reads nothing
    got = read("mmlu", source, "test")                                   # Rows(rows, source, ...)

Raw files are found here once per dataset (`freebaseqa_file`, `mmlu_csv_rows`, `story_buckets`,
`question_file`; the builder uses the same functions) and curated by `curate`; built folders and
Hub ids are read by `loading`. Raw rows keep the ids the tasks have always used for raw files
(the file's own question ids; `nq-<i>` and `<file stem>-<i>` where the file has none).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dataset_builder import curate, loading, readers, sources
from dataset_builder.layout import Row
from kick.errors import DataError
from kick.files import sha256_file

BUCKETS = sources.BUCKETS
NEED_REFERENCE = frozenset({"math", "reasoning", "coding"})  # MT-Bench categories judged with a reference
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_LETTERS = ("A", "B", "C", "D")


# --------------------------------------------------------------------------- where data lives


def shared_data_dir() -> Path | None:
    """The shared raw-data folder: `$KICK_SHARED_DATA` when it is a folder, else `shared/data`
    beside the checkout (`<repo>/../shared/data`, as CI lays it out), else None."""
    env = os.environ.get("KICK_SHARED_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    beside = Path(__file__).resolve().parents[2] / "shared" / "data"
    return beside if beside.is_dir() else None


@dataclass(frozen=True)
class Source:
    """Where a task's rows came from, recorded in its `settings()`."""

    kind: str  # "smoke" | "raw" | "built" | "hub"
    location: str
    digest: str | None = None  # sha256 of the file (or of the sorted files of a folder)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.location)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "location": self.location}
        if self.digest:
            out["sha256"] = self.digest
        out.update(self.details)
        return out


def sha256_tree(path: Path, files: Iterable[Path] | None = None) -> str:
    """sha256 of a file, or of '<relative path> <sha256>' lines of the folder's files, sorted."""
    if path.is_file():
        return sha256_file(path)
    chosen = sorted(files if files is not None else (p for p in path.rglob("*") if p.is_file()))
    h = hashlib.sha256()
    for f in chosen:
        h.update(f"{f.relative_to(path).as_posix()} {sha256_file(f)}\n".encode())
    return h.hexdigest()


@dataclass(frozen=True)
class Rows:
    """What `read` returns: the rows, the source with its digest (and chosen file) filled in,
    how many raw rows curation removed, and the reference-answer file read, if any."""

    rows: list[Row]
    source: Source
    removed: int = 0
    references: Source | None = None


@dataclass(frozen=True)
class RawRead:
    """A raw reader's result: `file` is the file chosen inside a folder (recorded as the source's
    `file`), `files` the folder's files its digest covers (None: the whole file or folder)."""

    rows: list[Row]
    file: Path | None = None
    files: list[Path] | None = None
    removed: int = 0
    references: Source | None = None


RawReader = Callable[..., RawRead]  # (path, split, **options) -> RawRead


@dataclass(frozen=True)
class Dataset:
    """One dataset family: its schema config(s), its `data=shared` default, its raw reader."""

    config: str  # the config a built folder must have (and the one recorded in provenance)
    shared: str  # path inside the shared data folder; `{split}` is filled in
    read_raw: RawReader
    configs: tuple[str, ...] = ()  # configs read from a built folder / Hub id (default: config)
    splits: Mapping[str, str] = field(default_factory=dict)  # task split name -> schema split


# --------------------------------------------------------------------------- resolve and read


def resolve(dataset: str, data: str, *, smoke: Path, split: str = "") -> Source:
    """Turn a task's `data` parameter into a Source, without reading the data yet."""
    spec = DATASETS[dataset]
    if data == "smoke":
        return Source("smoke", str(smoke), sha256_file(smoke))
    if data == "shared":
        root = shared_data_dir()
        if root is None:
            raise DataError("data=shared: no shared data folder (set KICK_SHARED_DATA or use data=<path>)")
        p = root / spec.shared.format(split=split)
        if not p.exists():
            raise DataError(f"data=shared: {p} does not exist")
        return Source("raw", str(p), None)
    p = Path(data).expanduser()
    if p.exists():
        if loading.is_built(p, spec.config):
            files = list((p / spec.config).glob("*.parquet"))
            return Source("built", str(p), sha256_tree(p, files), {"config": spec.config})
        return Source("raw", str(p), None)
    if _HUB_ID.match(data) and not data.startswith((".", "/", "~")):
        return Source("hub", data, None, {"config": spec.config})
    raise DataError(f"data {data!r}: no such file or folder (and not a Hub dataset id)")


def read(dataset: str, source: Source, split: str = "test", **options: Any) -> Rows:
    """The rows of `source` for one split of `dataset`, with the source's provenance completed.
    `options` go to the raw reader (mt_bench: `references`)."""
    spec = DATASETS[dataset]
    if source.kind in ("built", "hub"):
        return _read_built(spec, source, spec.splits.get(split, split))
    raw = spec.read_raw(source.path, split, **options)
    details = {**source.details, "file": str(raw.file)} if raw.file is not None else source.details
    digest = source.digest
    if digest is None:
        digest = sha256_tree(Path(details.get("file", source.location)), raw.files)
    return Rows(raw.rows, Source(source.kind, source.location, digest, details), raw.removed, raw.references)


def _read_built(spec: Dataset, source: Source, split: str) -> Rows:
    """Rows of a built folder or Hub id. The datasets fingerprint is recorded when one config is
    read (several configs have no single fingerprint)."""
    configs = spec.configs or (source.details["config"],)
    out: list[Row] = []
    fingerprint = None
    for config in configs:
        ds = loading.load_split(source.location, config, split)
        fingerprint = getattr(ds, "_fingerprint", None)
        out += [dict(r) for r in ds]
    details = dict(source.details)
    if fingerprint and len(configs) == 1:
        details.setdefault("fingerprint", fingerprint)
    return Rows(out, Source(source.kind, source.location, source.digest, details))


# --------------------------------------------------------------------------- FreebaseQA


def freebaseqa_file(folder: Path, split: str) -> Path:
    """The FreebaseQA file of a split in a folder: the official 2019 JSON, else the derived v1.1
    JSON, else any other `FreebaseQA-<split>*.json`, else the `.tab` release."""
    named = [folder / f"FreebaseQA-{split}.json", folder / f"FreebaseQA-{split}.v1_1.json"]
    cands = [*named, *sorted(folder.glob(f"FreebaseQA-{split}*.json")), folder / f"FreebaseQA-{split}.tab"]
    found = next((p for p in cands if p.is_file()), None)
    if found is None:
        raise DataError(f"{folder}: no FreebaseQA-{split} JSON or .tab file")
    return found


def freebaseqa_questions(path: Path, split: str) -> list[readers.FreebaseQuestion]:
    """Questions of a FreebaseQA JSON or `.tab` file; `.tab` questions are `<file stem>-<index>`."""
    if path.suffix != ".tab":
        return readers.read_freebaseqa_json(path)
    grouped = readers.group_freebaseqa_tab(readers.read_freebaseqa_tab(path), split)
    return [replace(q, question_id=f"{path.stem}-{i}") for i, q in enumerate(grouped)]


def _factoid_raw(path: Path, split: str) -> RawRead:
    file = freebaseqa_file(path, split) if path.is_dir() else path
    questions = freebaseqa_questions(file, split)
    try:
        rows = curate.factoid_rows(questions)
    except DataError as e:  # a question without any answer name: the file is malformed
        raise DataError(f"{file}: {e}") from None
    return RawRead(rows, file=file)


# --------------------------------------------------------------------------- MMLU


def mmlu_csv_rows(folder: Path, split: str) -> list[Row]:
    """`<folder>/<split dir>/<subject>_<split dir>.csv` (or under `<folder>/data/`), Hendrycks
    release, subjects in file-name order."""
    raw = sources.MMLU_SPLIT_DIRS[split]
    base = folder / raw if (folder / raw).is_dir() else folder / "data" / raw
    if not base.is_dir():
        raise DataError(f"{folder}: no {raw}/ folder of MMLU CSV files")
    schema_split = {"val": "validation"}.get(split, split)
    out: list[Row] = []
    for f in sorted(base.glob(f"*_{raw}.csv")):
        out += curate.mmlu_rows(f.name[: -len(f"_{raw}.csv")], schema_split, readers.read_mmlu_csv(f))
    return out


def _mmlu_json_rows(path: Path, split: str) -> list[Row]:
    """The smoke layout: {"dev": [{subject, question, choices, answer}], "test": [...]}."""
    obj = json.loads(path.read_text(encoding="utf-8"))
    items = obj.get(sources.MMLU_SPLIT_DIRS[split], obj.get(split, []))
    by_subject: dict[str, list[readers.MMLURow]] = {}
    for i, r in enumerate(items):
        where = f"{path}#{i}"
        if len(r["choices"]) != 4:
            raise DataError(
                f"{where}: expected 6 columns (question, A, B, C, D, answer), got {len(r['choices']) + 2}"
            )
        answer = r["answer"].strip()
        if answer not in _LETTERS:
            raise DataError(f"{where}: answer {answer!r} is not one of A-D")
        by_subject.setdefault(r["subject"], []).append(
            readers.MMLURow(i, r["question"], tuple(r["choices"]), answer)
        )
    schema_split = {"val": "validation"}.get(split, split)
    return [row for s, qs in by_subject.items() for row in curate.mmlu_rows(s, schema_split, qs)]


def _mmlu_raw(path: Path, split: str) -> RawRead:
    if path.is_file():
        return RawRead(_mmlu_json_rows(path, split))
    return RawRead(mmlu_csv_rows(path, split), files=list(path.rglob("*.csv")))


# --------------------------------------------------------------------------- in-context retrieval QA


def _triviaqa_rc_rows(path: Path) -> list[Row]:
    """Hub `trivia_qa` rc rows (jsonl): first wiki context + first search context as evidence."""
    out = []
    for i, (_, r) in enumerate(readers.iter_jsonl(path)):
        ans = r["answer"]
        wiki = (r.get("entity_pages") or {}).get("wiki_context") or []
        web = (r.get("search_results") or {}).get("search_context") or []
        out.append(
            {
                "id": str(r.get("question_id", f"tqa-{i}")),
                "source": "trivia_qa",  # not a built config, so not in `sources.SOURCES`
                "license": "apache-2.0",
                "question": r["question"].strip(),
                "answers": list(dict.fromkeys([ans.get("value", ""), *ans.get("aliases", [])])),
                "context": "\n".join(x for x in (wiki[:1] + web[:1]) if x),
                "context_title": "",
                "evidence": [x for x in (wiki[:1] + web[:1]) if x],  # icrqa protocol=paper joins them with ""
            }
        )
    return out


def _qa_raw(path: Path, split: str) -> RawRead:
    """NQ-Open oracle jsonl (ids `nq-<i>`), TriviaQA rc jsonl or SQuAD v1.1 json; a folder gives
    its first `.jsonl` (else `.json`) file."""
    file = path
    if path.is_dir():
        cands = sorted(path.glob("*.jsonl")) or sorted(path.glob("*.json"))
        if not cands:
            raise DataError(f"{path}: no .jsonl/.json QA file")
        file = cands[0]
    chosen = file if path.is_dir() else None
    if file.suffix != ".jsonl":
        return RawRead(curate.squad_rows(readers.read_squad_json(file)), file=chosen)
    first = next((obj for _, obj in readers.iter_jsonl(file)), {})
    if "ctxs" in first:
        rows = [
            {**r, "id": f"nq-{i}"} for i, r in enumerate(curate.nq_rows(readers.read_nq_open_oracle(file)))
        ]
        return RawRead(rows, file=chosen)
    if "answer" in first:
        return RawRead(_triviaqa_rc_rows(file), file=chosen)
    raise DataError(f"{file}: neither NQ-Open oracle (ctxs) nor TriviaQA rc (answer) rows")


# --------------------------------------------------------------------------- summarization


def story_buckets(folder: Path) -> dict[str, list[readers.Story]]:
    """`<folder>/{small,mid,large}/*.story` (or `<folder>/selected_stories/...`), sorted by name."""
    base = folder / "selected_stories" if (folder / "selected_stories").is_dir() else folder
    out = {b: [readers.read_story(f) for f in sorted((base / b).glob("*.story"))] for b in BUCKETS}
    if not any(out.values()):
        raise DataError(f"{folder}: no {{small,mid,large}}/*.story files")
    return out


def story_jsonl(path: Path) -> dict[str, list[readers.Story]]:
    """Smoke layout: one JSON per line {id, bucket, text} where text is a `.story` file's text."""
    out: dict[str, list[readers.Story]] = {}
    for n, r in readers.iter_jsonl(path):
        where = f"{path}:{n}"
        story_id = str(readers.require_field(r, "id", object, where))
        text = readers.require_field(r, "text", str, where)
        story = readers.parse_story(text, story_id, f"{where} (story {story_id}), text line")
        out.setdefault(readers.require_field(r, "bucket", str, where), []).append(story)
    return out


def curate_stories(buckets: Mapping[str, Sequence[readers.Story]]) -> tuple[list[Row], int]:
    """Stories per bucket -> summarization rows (each story in its first bucket only, buckets in
    `BUCKETS` order) and the number of duplicates removed."""
    kept = curate.assign_buckets(buckets, BUCKETS)
    rows = [r for b in BUCKETS for r in curate.summarization_rows(b, kept.get(b, []))]
    return rows, sum(len(v) for v in buckets.values()) - len(rows)


def _summarization_raw(path: Path, split: str) -> RawRead:
    if path.is_dir():
        rows, removed = curate_stories(story_buckets(path))
        return RawRead(rows, files=list(path.rglob("*.story")), removed=removed)
    rows, removed = curate_stories(story_jsonl(path))
    return RawRead(rows, removed=removed)


# --------------------------------------------------------------------------- Vicuna-80, MT-Bench


def question_file(folder: Path) -> Path:
    """`<folder>/question.jsonl` (Vicuna-bench and MT-Bench folders)."""
    path = folder / sources.QUESTION_FILE
    if not path.is_file():
        raise DataError(f"{folder}: no {sources.QUESTION_FILE}")
    return path


def _vicuna_raw(path: Path, split: str) -> RawRead:
    """Vicuna `{"question_id", "text", "category"}` lines, or FastChat llm_judge `{"question_id",
    "category", "turns"}` lines (first turn); no reference answers (those come from a file)."""
    file = question_file(path) if path.is_dir() else path
    first = next((o for _, o in readers.iter_jsonl(file)), {})
    if "text" in first:
        questions = [(q.question_id, q.category, q.text) for q in readers.read_vicuna_questions(file)]
    else:
        questions = [(q.question_id, q.category, q.turns[0]) for q in readers.read_mt_bench_questions(file)]
    common = {"source": "vicuna_bench", "license": sources.SOURCES["vicuna_bench"].license}
    rows = [
        {
            "id": str(qid),
            **common,
            "category": cat,
            "question": text,
            "reference_answer": "",
            "reference_model": "",
        }
        for qid, cat, text in questions
    ]
    return RawRead(rows, file=file if path.is_dir() else None)


def reference_answers(path: Path) -> tuple[dict[str, str], Source]:
    """question_id -> answer text from `{"question_id", "text"}` or `{"question_id", "choices"}`
    lines, and the file's provenance."""
    answers = {str(a.question_id): a.turns[0] for a in readers.read_answers(path) if a.turns}
    return answers, Source("raw", str(path), sha256_file(path))


def _mt_bench_references(questions: Path, references: str) -> tuple[dict[str, list[str]], Source | None]:
    """`auto`: `reference_answer/gpt-4.jsonl` beside the questions if present; `none`; a path."""
    if references == "none":
        return {}, None
    auto = references == "auto"
    path = questions.parent / "reference_answer" / "gpt-4.jsonl" if auto else Path(references).expanduser()
    if not path.is_file():
        if auto:
            return {}, None
        raise DataError(f"mt-bench: reference file {path} does not exist")
    turns = {str(a.question_id): list(a.turns) for a in readers.read_mt_bench_answers(path)}
    return turns, Source("raw", str(path), sha256_file(path))


def _mt_bench_raw(path: Path, split: str, references: str = "auto") -> RawRead:
    """Two-turn questions; reference turns (file, else inline) for the categories that need them."""
    file = question_file(path) if path.is_dir() else path
    refs, ref_source = _mt_bench_references(file, references)
    common = {"source": "mt_bench", "license": sources.SOURCES["mt_bench"].license}
    rows = []
    for q in readers.read_mt_bench_questions(file):
        qid = str(q.question_id)
        if len(q.turns) != 2:
            raise DataError(f"{file}: question {qid} has {len(q.turns)} turns, expected 2")
        ref = refs.get(qid, list(q.reference)) if q.category in NEED_REFERENCE else []
        rows.append(
            {"id": qid, **common, "category": q.category, "turns": list(q.turns), "reference_turns": ref}
        )
    return RawRead(rows, file=file if path.is_dir() else None, references=ref_source)


# --------------------------------------------------------------------------- WikiText-2


def _wikitext_raw(path: Path, split: str) -> RawRead:
    if not path.is_file():
        raise DataError(f"{path}: not a text file (WikiText-2 raw)")
    return RawRead(curate.wikitext_rows(readers.read_wikitext_raw(path)))


DATASETS: dict[str, Dataset] = {
    "factoid_qa": Dataset("factoid_qa", sources.FREEBASEQA_DERIVED, _factoid_raw),
    "mmlu": Dataset("mmlu", sources.MMLU_DIR, _mmlu_raw, splits={"val": "validation"}),
    "icrqa": Dataset("icrqa_nq_open", sources.NQ_OPEN_ORACLE, _qa_raw),
    "summarization": Dataset(
        "summarization_small",
        sources.CNN_DM_DIR,
        _summarization_raw,
        configs=tuple(f"summarization_{b}" for b in BUCKETS),
    ),
    "vicuna_bench": Dataset("vicuna_bench", sources.VICUNA_DIR, _vicuna_raw),
    "mt_bench": Dataset("mt_bench", sources.MT_BENCH_DIR, _mt_bench_raw),
    "wikitext2": Dataset("wikitext2", sources.WIKITEXT2_TEST, _wikitext_raw),
}
