"""Start `kick` in a real child process, with the fake plugin registered (and every installed
plugin, unless `builtins=False`): for tests where the behaviour is about processes (locks,
signals, exit codes, what reaches stderr).

    proc = kick_process("sweep", "--spec", spec, "--out", out, env={"FAKE_DELAY": "0.05"})
    res = kick_result("run", ...)   # a finished subprocess.CompletedProcess (text)
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parents[1]
ROOT = TESTS.parent

CHILD = """
import sys
from support.fake_plugin import plugin
from kick.cli import main
from kick.plugins import load_plugins
builtins = sys.argv.pop(1) == "1"
main(load_plugins(extra=[("fake", plugin)], **({} if builtins else {"eps": []})))
"""


def child_env(extra: Mapping[str, str] | None = None, *, path: list[Path] = ()) -> dict[str, str]:  # type: ignore[assignment]
    parts = [*map(str, path), str(TESTS), str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in parts if p),
        "COLUMNS": "200",
        **(extra or {}),
    }


def kick_argv(*args: object, builtins: bool = False) -> list[str]:
    return [sys.executable, "-c", CHILD, "1" if builtins else "0", *map(str, args)]


def kick_process(
    *args: object, env: Mapping[str, str] | None = None, builtins: bool = False, **kw: Any
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        kick_argv(*args, builtins=builtins), env=child_env(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, **kw,
    )  # fmt: skip


def kick_result(
    *args: object, env: Mapping[str, str] | None = None, builtins: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        kick_argv(*args, builtins=builtins),
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_clear_line(res: subprocess.CompletedProcess[str]) -> bool:
    """Exit non-zero, no traceback, and stderr is one non-empty line."""
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    return res.returncode != 0 and "Traceback" not in res.stderr + res.stdout and len(lines) == 1
