"""On-disk cache of judge replies, keyed by (judge model, full prompt, decoding parameters).

One JSON file per key (`<dir>/<k[:2]>/<k>.json`), written atomically, so concurrent threads and
an interrupted run never leave a torn entry. A cached entry holds the judge model id and the
reply text, never a credential (the key is not part of the cache key or the entry).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def cache_key(model: str, messages: Sequence[Mapping[str, str]], decoding: Mapping[str, Any]) -> str:
    """A stable hash of what determines a reply: the judge model, every message, decoding."""
    payload = json.dumps(
        {"model": model, "messages": [dict(m) for m in messages], "decoding": dict(decoding)},
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def resolve_cache_dir(explicit: str, env: Mapping[str, str], run_dir: Path | None) -> Path | None:
    """Where replies are cached: the `cache_dir` parameter, else `$KICK_CACHE_DIR/judge`, else
    `<run dir>/judge_cache`, else nowhere on disk (memory only)."""
    if explicit:
        return Path(explicit)
    if env.get("KICK_CACHE_DIR"):
        return Path(env["KICK_CACHE_DIR"]) / "judge"
    if run_dir is not None:
        return Path(run_dir) / "judge_cache"
    return None


class ReplyCache:
    """Replies by key, in memory and (when `root` is set) on disk."""

    def __init__(self, root: Path | None) -> None:
        self.root = root
        self._memory: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def _path(self, key: str) -> Path:
        assert self.root is not None
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        if self.root is None:
            return None
        path = self._path(key)
        try:
            entry: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry.get("reply"), str):
            return None
        with self._lock:
            self._memory[key] = entry
        return entry

    def put(self, key: str, entry: Mapping[str, Any]) -> None:
        data = dict(entry)
        with self._lock:
            self._memory[key] = data
        if self.root is None:
            return
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{key[:8]}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, ensure_ascii=False)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def discard(self, key: str) -> None:
        with self._lock:
            self._memory.pop(key, None)
        if self.root is not None:
            try:
                self._path(key).unlink()
            except FileNotFoundError:
                pass
