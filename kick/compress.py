"""`kick compress`: compress a model and save a loadable folder plus kick_compression.json."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import kick
from kick.errors import RunDirError, SpecError
from kick.plugins import PluginSet, load_plugins
from kick.rundir import write_json_atomic
from kick.runner import _seed_everything, load_model, provenance
from kick.types import RunSpec

MANIFEST = "kick_compression.json"


def compress_to_folder(
    spec: RunSpec, out: Path, *, overwrite: bool = False, plugins: PluginSet | None = None
) -> dict[str, Any]:
    """Compress and write the model to `out` atomically (a temporary sibling folder, renamed)."""
    plugins = plugins or load_plugins()
    if spec.compression is None:
        raise SpecError("no compression method given")
    compressor = plugins.registry.create("compressor", spec.compression.name, **dict(spec.compression.params))
    if out.exists() and not overwrite:
        raise RunDirError(f"{out} already exists: pass --overwrite to replace it")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
    except OSError as e:
        raise RunDirError(f"cannot write to {parent}: {e.strerror or e}") from None
    try:
        _seed_everything(spec.seed)
        model = load_model(spec, plugins)
        t0 = time.time()
        stats = dict(compressor.compress(model))
        stats.setdefault("seconds", time.time() - t0)
        model.save(str(tmp))
        manifest = {
            "kick_version": kick.__version__,
            "spec": spec.to_dict(),
            "model": dict(model.info()),
            "compression": {"method": spec.compression.name, **stats},
            "provenance": provenance(plugins),
        }
        write_json_atomic(tmp / MANIFEST, manifest)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest
