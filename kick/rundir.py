"""The run directory: its file names, atomic JSON writes, and the append-only record store."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import kick
from kick.dirlock import LOCK, has_content
from kick.errors import RunDirError
from kick.metrics import clean_number
from kick.types import Record, RunSpec, to_jsonable

StartMode = Literal["new", "resume", "overwrite"]
"""What --resume / --overwrite choose, for a run or a sweep."""
Mode = Literal[StartMode, "rejudge"]
"""How `run()` opens its directory: `new` refuses an existing run, `resume` continues one written
by the same spec, `overwrite` replaces one, `rejudge` re-judges a finished one (its spec may
differ only in the judge) without generating anything."""

SUMMARY = "summary.json"
RECORDS = "records.jsonl"
SPEC = "spec.json"
COMPRESSION = "compression.json"


def umask() -> int:
    """The process's umask (read by setting it and putting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def with_umask(fd: int | None = None, path: str | Path | None = None, *, directory: bool = False) -> None:
    """Give a file or folder from `tempfile` (created 0600 / 0700) the mode the user's umask
    gives any new file (0644 / 0755 under umask 022), before it is renamed into place."""
    mode = (0o777 if directory else 0o666) & ~umask()
    if fd is not None:
        os.fchmod(fd, mode)
    elif path is not None:
        os.chmod(path, mode)


def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to a temporary file in the same folder, fsync, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with_umask(fd)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(to_jsonable(data), f, indent=2, sort_keys=False, allow_nan=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and not e.filename:
            raise OSError(e.errno, e.strerror, str(path)) from None
        raise


def read_json(path: Path) -> Any:
    with path.open(encoding="utf-8") as f:
        return json.load(f)


class RecordStore:
    """Append-only records.jsonl. Each append is flushed and fsynced; a torn last line (from a
    kill mid-write) is ignored on reading and cut off before the next append, so a rerun resumes
    without duplicates or corrupt lines. For a key seen twice the later record wins (re-judging)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._records: dict[tuple[str, str, str], Record] = {}
        if path.exists():
            self._load()

    def _load(self) -> None:
        good_bytes = 0
        with self.path.open("rb") as f:
            for raw in f:
                if not raw.endswith(b"\n"):
                    break
                try:
                    rec = Record.from_dict(json.loads(raw))
                except (ValueError, KeyError):
                    break
                self._records[rec.key] = rec
                good_bytes += len(raw)
        if good_bytes != self.path.stat().st_size:
            with self.path.open("r+b") as f:
                f.truncate(good_bytes)

    def append(self, records: Iterable[Record]) -> None:
        lines = []
        for rec in records:
            lines.append(json.dumps(_record_json(rec), ensure_ascii=False, default=str) + "\n")
            self._records[rec.key] = rec
        if not lines:
            return
        try:
            with self.path.open("a", encoding="utf-8") as f:
                f.write("".join(lines))
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:  # a torn last line is cut off when the run is resumed
            raise OSError(e.errno, e.strerror, str(self.path)) from None

    def get(self, variant: str, task: str, sample_id: str) -> Record | None:
        return self._records.get((variant, task, sample_id))

    def done_ids(self, variant: str, task: str) -> set[str]:
        return {k[2] for k in self._records if k[0] == variant and k[1] == task}

    def select(self, variant: str, task: str, order: Sequence[str] | None = None) -> list[Record]:
        if order is not None:
            return [r for sid in order if (r := self._records.get((variant, task, sid))) is not None]
        return [r for k, r in self._records.items() if k[0] == variant and k[1] == task]

    def all(self) -> list[Record]:
        return list(self._records.values())

    def compact(self) -> None:
        """Rewrite the file with one line per key (after re-judging), atomically."""
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        with_umask(fd)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for rec in self._records.values():
                f.write(json.dumps(_record_json(rec), ensure_ascii=False, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def _record_json(rec: Record) -> dict[str, Any]:
    d = to_jsonable(rec)
    d["scores"] = {k: clean_number(v) for k, v in rec.scores.items()}
    return d  # type: ignore[no-any-return]


def prepare_run_dir(out: Path, spec: RunSpec, mode: Mode) -> dict[str, Any] | None:
    """Create or reopen the run directory according to `mode`; returns the summary already
    there (resume, rejudge) or None. Refuses, with one message and before any work, a directory
    that is not a kick run, or one written by a different spec."""
    spec_file = out / SPEC
    if mode == "rejudge":
        if not spec_file.is_file() or not (out / RECORDS).is_file():
            raise RunDirError(f"{out} is not a kick run directory (needs {SPEC} and {RECORDS})")
        old = RunSpec.from_dict(read_json(spec_file)["spec"])
        if dataclasses.replace(old, judge=spec.judge) != spec:
            raise RunDirError(f"{out}: only the judge may change when re-judging a run")
        return _previous_summary(out)
    if has_content(out):
        if mode == "overwrite":
            if not spec_file.exists() and not (out / RECORDS).exists():
                raise RunDirError(
                    f"{out} is not empty and is not a kick run directory; refusing to delete it"
                )
            clear_dir(out)
        elif mode == "resume":
            if not spec_file.exists():
                raise RunDirError(f"{out} has no {SPEC}: nothing to resume")
            if not same_spec(read_json(spec_file).get("spec"), spec):
                raise RunDirError(
                    f"{out} was written by a different spec; use --overwrite to start again "
                    f"or --out for a new directory"
                )
            return _previous_summary(out)
        else:
            raise RunDirError(
                f"{out} already exists: pass --resume to continue it or --overwrite to replace it"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".kick-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RunDirError(f"cannot write to {out}: {e.strerror or e}") from None
    write_json_atomic(spec_file, {"kick_version": kick.__version__, "spec": spec.to_dict()})
    return None


def has_records(out: Path) -> bool:
    """Whether any records.jsonl under `out` (a run, or a sweep's cells) holds a record."""
    return any(p.stat().st_size > 0 for p in out.rglob(RECORDS)) if out.is_dir() else False


def clear_dir(out: Path) -> None:
    """Remove what a command wrote into `out`, except the lock it holds."""
    for p in out.iterdir():
        if p.name != LOCK:
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


def same_spec(stored: Any, spec: RunSpec) -> bool:
    """Whether a stored spec.json `spec` is `spec`, read back as a RunSpec: a field added to kick
    later, at its default, does not make an older run directory "a different spec"."""
    try:
        return isinstance(stored, dict) and RunSpec.from_dict(stored).to_dict() == spec.to_dict()
    except (TypeError, KeyError, ValueError):
        return False


def _previous_summary(out: Path) -> dict[str, Any] | None:
    data = read_json(out / SUMMARY) if (out / SUMMARY).is_file() else None
    return data if isinstance(data, dict) else None
