"""Installed-looking third-party plugins: a dist-info folder with `kick.plugins` entry points and
its modules, written under a folder that a test puts on sys.path (or a child's PYTHONPATH)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def make_distribution(
    root: Path, dist: str, version: str, eps: dict[str, str], modules: dict[str, str]
) -> None:
    """Write an installed-looking distribution (dist-info + modules) under `root`."""
    info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    lines = "\n".join(f"{k} = {v}" for k, v in eps.items())
    (info / "entry_points.txt").write_text(f"[kick.plugins]\n{lines}\n")
    for name, code in modules.items():
        (root / f"{name}.py").write_text(textwrap.dedent(code))
