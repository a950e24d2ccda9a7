"""One writer per directory: an exclusive lock held for the lifetime of a command that writes a
run, sweep or report directory.

The lock is `fcntl.flock` on DIR/.kick.lock, which records the holder (pid, host, command, start
time) for the message a second writer gets. `flock` rather than the `filelock` package: the
kernel releases the lock when its holder dies, however it dies (SIGKILL included), so a lock left
behind by a dead process is free to take over with no pid guessing, and the holder's details stay
readable in the file (we open it without truncating, then rewrite it only once we hold it).
A lock file whose inode was replaced while we waited (its holder removed it on release) is
opened again, so two writers can never hold locks on two different files of the same name.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kick.errors import RunDirError

LOCK = ".kick.lock"


def has_content(path: Path) -> bool:
    """Whether a directory holds anything besides its lock file."""
    return path.is_dir() and any(p.name != LOCK for p in path.iterdir())


def holder(path: Path) -> dict[str, Any]:
    """What the lock file of `path` says about its holder ({} when unreadable)."""
    try:
        data = json.loads((path / LOCK).read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(info: dict[str, Any]) -> str:
    if not info:
        return "another kick process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(info.get("started", 0))))
    return f"{info.get('command', 'kick')} (pid {info.get('pid')} on {info.get('host')}, since {since})"


@contextmanager
def writer_lock(path: Path, command: str | None = None) -> Iterator[None]:
    """Hold the directory's lock while the block runs; raise RunDirError at once when another
    live process holds it. Creates `path` when missing and removes it again on leaving when
    nothing but the lock was written there."""
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is a file, not a directory: give --out a folder")
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd = _acquire(path)
    except OSError as e:
        if created:
            _remove_if_empty(path)
        raise RunDirError(f"cannot write to {path}: {e.strerror or e}") from None
    try:
        info = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command or " ".join(["kick", *sys.argv[1:2]]),
            "started": time.time(),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        yield
    finally:
        try:
            os.unlink(path / LOCK)  # while still held: a waiter then reopens a fresh file
        except OSError:
            pass
        os.close(fd)
        if created:
            _remove_if_empty(path)


def _acquire(path: Path) -> int:
    while True:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunDirError(
                f"{path} is being written by {_describe(holder(path))}: wait for it to finish or stop it "
                "(one writer per directory)"
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            same = os.fstat(fd).st_ino == os.stat(path / LOCK).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)  # the holder released and removed it between our open and our lock: again


def _remove_if_empty(path: Path) -> None:
    try:
        path.rmdir()
    except OSError:
        pass
