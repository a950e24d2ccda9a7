"""`kick compress`: a run with no task that saves the compressed model.

The folder is an ordinary run directory (spec.json, compression.json, summary.json) that is also
a model folder `AutoModelForCausalLM.from_pretrained` loads, plus kick_compression.json, the
manifest a user ships with the model. It is written in a temporary sibling and renamed, so an
interrupted compression leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import kick
from kick.errors import RunDirError
from kick.interfaces import Progress
from kick.plugins import PluginSet, check_offload, load_plugins
from kick.rundir import write_json_atomic
from kick.runner import check_spec, run
from kick.types import RunSpec

MANIFEST = "kick_compression.json"


def compress_to_folder(
    spec: RunSpec,
    out: Path,
    *,
    overwrite: bool = False,
    plugins: PluginSet | None = None,
    progress: Progress | None = None,
    offload: bool = False,
) -> dict[str, Any]:
    """Compress and write the model to `out` atomically; returns the manifest. `offload`: load
    the model with its decoder blocks on disk and compress one block at a time."""
    check_spec(spec, save_model=True)
    if offload:
        plugins = plugins if plugins is not None else load_plugins()
        check_offload(spec.model, plugins)
    if out.exists() and not overwrite:
        raise RunDirError(f"{out} already exists: pass --overwrite to replace it")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as e:
        raise RunDirError(f"cannot write to {parent}: {e.strerror or e}") from None
    try:
        summary = run(spec, tmp, plugins=plugins, progress=progress, save_model=True, offload=offload)
        manifest = {
            "kick_version": kick.__version__,
            "spec": summary["spec"],
            "model": summary["model"],
            "compression": summary["compression"],
            "provenance": summary["provenance"],
        }
        write_json_atomic(tmp / MANIFEST, manifest)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
