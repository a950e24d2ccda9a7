"""What every task shares: where its data comes from (smoke set, shared raw data, a raw file,
a folder built by `dataset_builder`, a Hub id), provenance of that source, and sample selection.

`data` values (every task):
  - `smoke`  (default) the task's built-in smoke-test set in `kick_tasks/smoke/` (written by this
             project, tiny, for demos and CI; not a benchmark);
  - `shared` the real raw data in the shared data folder: `$KICK_SHARED_DATA`, else
             `<repo>/../shared/data`;
  - a path   a raw file/folder in its original format, or a folder built by `dataset_builder`
             (recognised by its `<config>/` sub-folder of Parquet shards);
  - `owner/name` a Hugging Face Hub dataset id in the normalized schema (`dataset_builder.schema`).
"""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from dataset_builder import readers
from kick.errors import DataError, SpecError
from kick.files import sha256_file

SMOKE_DIR = Path(__file__).resolve().parent / "smoke"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
T = TypeVar("T")


def shared_data_dir() -> Path | None:
    """The shared raw-data folder: `$KICK_SHARED_DATA`, else `<repo>/../shared/data`."""
    env = os.environ.get("KICK_SHARED_DATA")
    if env and Path(env).is_dir():
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents[1:5]:
        cand = parent / "shared" / "data"
        if cand.is_dir():
            return cand
    return None


@dataclass(frozen=True)
class Source:
    """Where a task's samples came from, recorded in `settings()`."""

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


def is_built_dataset(path: Path, config: str) -> bool:
    return path.is_dir() and (path / config).is_dir() and any((path / config).glob("*.parquet"))


def resolve_source(data: str, *, smoke: str, shared: str, config: str) -> Source:
    """Turn a task's `data` parameter into a Source (without reading the data yet).

    smoke: file name in the smoke folder; shared: path of the default raw file/folder inside the
    shared data folder; config: the `dataset_builder.schema` config of a built folder or Hub dataset.
    """
    if data == "smoke":
        p = SMOKE_DIR / smoke
        return Source("smoke", str(p), sha256_file(p))
    if data == "shared":
        root = shared_data_dir()
        if root is None:
            raise DataError("data=shared: no shared data folder (set KICK_SHARED_DATA or use data=<path>)")
        p = root / shared
        if not p.exists():
            raise DataError(f"data=shared: {p} does not exist")
        return Source("raw", str(p), None)
    p = Path(data).expanduser()
    if p.exists():
        if is_built_dataset(p, config):
            files = list((p / config).glob("*.parquet"))
            return Source("built", str(p), sha256_tree(p, files), {"config": config})
        return Source("raw", str(p), None)
    if _HUB_ID.match(data) and not data.startswith((".", "/", "~")):
        return Source("hub", data, None, {"config": config})
    raise DataError(f"data {data!r}: no such file or folder (and not a Hub dataset id)")


def load_schema_rows(source: Source, split: str) -> list[dict[str, Any]]:
    """Rows of a built folder or Hub dataset (normalized schema, one config, one split)."""
    config = source.details["config"]
    try:
        import datasets
    except ImportError as e:  # pragma: no cover
        raise DataError(f"reading {source.location} needs the datasets library: {e}") from None
    try:
        ds = datasets.load_dataset(source.location, config, split=split)
    except Exception as first:  # a built folder without card metadata: read its shards directly
        shards = sorted((Path(source.location) / config).glob(f"{split}-*.parquet"))
        if source.kind != "built" or not shards:
            raise DataError(f"cannot load {source.location} config {config!r} split {split!r}: {first}") from None
        ds = datasets.load_dataset("parquet", data_files={split: [str(s) for s in shards]}, split=split)
    fp = getattr(ds, "_fingerprint", None)
    if fp:
        source.details.setdefault("fingerprint", fp)
    return [dict(r) for r in ds]


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """A JSON-lines file (dataset_builder's reader); a bad line is a DataError naming the line."""
    return [obj for _, obj in readers.iter_jsonl(path)]


def select(items: Sequence[T], limit: int | None, seed: int) -> list[T]:
    """All items, or a seeded random subset of `limit` items kept in source order."""
    if limit is None or limit >= len(items):
        return list(items)
    idx = sorted(random.Random(seed).sample(range(len(items)), limit))
    return [items[i] for i in idx]


def check_limit(limit: int | None) -> None:
    if limit is not None and limit < 1:
        raise SpecError(f"limit must be at least 1, got {limit}")


class CachedSamples:
    """Mixin: `samples()` is built once (the runner asks several times) and ids are checked."""

    _samples: list[Any] | None = None

    def _cached(self, build: Callable[[], list[Any]]) -> list[Any]:
        if self._samples is None:
            samples = build()
            ids = [s.id for s in samples]
            if len(set(ids)) != len(ids):
                raise DataError(f"{getattr(self, 'name', 'task')}: duplicate sample ids in the data")
            self._samples = samples
        return self._samples


def with_digest(source: Source, files: Iterable[Path] | None = None) -> Source:
    """The source with its sha256 filled in (raw data: the file read, or the folder's files)."""
    if source.digest is not None or source.kind not in ("raw", "smoke"):
        return source
    path = Path(source.details.get("file", source.location))
    return Source(source.kind, source.location, sha256_tree(path, files), source.details)
