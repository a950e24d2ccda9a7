"""The README's commands run as written: every `kick ...` line parses against the real CLI
(commands, options, value types), and the compression example runs on the embedded model."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from kick.cli import make_app

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[list[str]]:
    """Every `kick` command in the README's bash blocks, continuation lines joined, comments and
    `[optional | alternatives]` dropped, `a ; b` split."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = re.sub(r"\[[^\]]*\]", "", line.split("  #")[0])
            for part in line.split(";"):
                words = shlex.split(part)
                if words and words[0] == "kick":
                    out.append(words[1:])
    return out


def test_the_readme_lists_the_commands_it_documents() -> None:
    names = {c[0] for c in readme_commands()}
    assert {"plugins", "list", "eval", "run", "compress", "sweep", "report", "judge", "data"} <= names


@pytest.mark.parametrize("args", readme_commands(), ids=lambda a: " ".join(a)[:60])
def test_every_readme_command_parses_against_the_cli(args: list[str]) -> None:
    group = typer.main.get_command(make_app())
    ctx = group.make_context("kick", list(args), resilient_parsing=False)
    rest = [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])), *ctx.args]
    command: Any = group
    while hasattr(command, "get_command"):  # a group: descend into the named subcommand
        name, *rest = rest
        sub = command.get_command(ctx, name)
        assert sub is not None, f"kick has no command {name!r} (README: kick {' '.join(args)})"
        ctx = sub.make_context(name, rest, parent=ctx)  # raises on an unknown option or a bad value
        command, rest = sub, [*(getattr(ctx, "_protected_args", None) or getattr(ctx, "protected_args", [])), *ctx.args]
    assert not rest, f"unexpected arguments {rest}"


@pytest.mark.slow
def test_the_readme_compression_example_runs_on_the_embedded_model(tmp_path: Path) -> None:
    (args,) = [a for a in readme_commands() if a[0] == "compress"]
    args = [str(tmp_path / "gptq4") if a == "models/gptq4" else a for a in args]
    res = subprocess.run(
        [sys.executable, "-c", "from kick.cli import main; main()", *args], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert (tmp_path / "gptq4" / "config.json").exists()
