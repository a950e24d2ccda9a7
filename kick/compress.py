"""`kick compress`: a run with no task that saves the compressed model.

The folder is an ordinary run directory (spec.json, compression.json, summary.json) that is also
a model folder `AutoModelForCausalLM.from_pretrained` loads, plus kick_compression.json, the
manifest a user ships with the model. gptq and rtn write packed integer weights in the
compressed-tensors format (their compressor's own `save`); pruned models stay dense tensors with
exact zeros, optionally in a smaller dtype (`save_dtype`). The manifest records the folder's
size on disk and the `quantization_config` written into config.json. It is written in a temporary sibling and renamed, so an
interrupted compression leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import kick
from kick.errors import RunDirError, SpecError
from kick.interfaces import Progress
from kick.plugins import PluginSet, check_offload, load_plugins
from kick.rundir import with_umask, write_json_atomic
from kick.runner import check_spec, run
from kick.types import RunSpec

MANIFEST = "kick_compression.json"
PACKING = "kick_packing.json"  # written beside a packed checkpoint by kick_quant
SAVE_DTYPES = {"float32": "float32", "fp32": "float32", "bfloat16": "bfloat16", "bf16": "bfloat16",
               "float16": "float16", "fp16": "float16"}  # fmt: skip


def save_dtype_of(name: str | None) -> str | None:
    """The dtype a `--save-dtype` value names (bf16 = bfloat16 ...), or SpecError."""
    if name is None:
        return None
    if name not in SAVE_DTYPES:
        raise SpecError(f"--save-dtype must be one of {', '.join(SAVE_DTYPES)}, got {name!r}")
    return SAVE_DTYPES[name]


def folder_size(folder: Path) -> dict[str, int]:
    """Bytes on disk: the weight files (*.safetensors, *.bin) and the whole folder."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    weights = [p for p in files if p.suffix in (".safetensors", ".bin")]
    return {
        "weights_bytes": sum(p.stat().st_size for p in weights),
        "total_bytes": sum(p.stat().st_size for p in files),
    }


def compress_to_folder(
    spec: RunSpec,
    out: Path,
    *,
    overwrite: bool = False,
    plugins: PluginSet | None = None,
    progress: Progress | None = None,
    save_dtype: str | None = None,
    offload: bool = False,
) -> dict[str, Any]:
    """Compress and write the model to `out` atomically; returns the manifest. `save_dtype`
    (float32, bfloat16 / bf16, float16 / fp16): the dtype of the floating-point tensors written.
    `offload`: load the model with its decoder blocks on disk and compress one block at a time."""
    check_spec(spec, save_model=True)
    dtype = save_dtype_of(save_dtype)
    if offload:
        if dtype is not None:
            raise SpecError("--save-dtype cannot be combined with --offload (blocks are copied as stored)")
        plugins = plugins if plugins is not None else load_plugins()
        check_offload(spec.model, plugins)
    if out.exists() and not overwrite:
        raise RunDirError(f"{out} already exists: pass --overwrite to replace it")
    parent = out.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=parent))
        with_umask(path=tmp, directory=True)  # the folder gets the user's umask, not mkdtemp's 0700
    except OSError as e:
        raise RunDirError(f"cannot write to {parent}: {e.strerror or e}") from None
    try:
        summary = run(
            spec, tmp, plugins=plugins, progress=progress, save_model=True, save_dtype=dtype, offload=offload
        )
        manifest = {
            "kick_version": kick.__version__,
            "spec": summary["spec"],
            "model": summary["model"],
            "compression": summary["compression"],
            "saved": saved_info(tmp, dtype),
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


def saved_info(folder: Path, dtype: str | None) -> dict[str, Any]:
    """What the folder holds: size on disk, the checkpoint's own quantization_config (None for
    dense tensors) and kick's packing record when the weights are packed."""
    config = json.loads((folder / "config.json").read_text()) if (folder / "config.json").is_file() else {}
    packing = json.loads((folder / PACKING).read_text()) if (folder / PACKING).is_file() else None
    return {
        "size_on_disk": folder_size(folder),
        "save_dtype": dtype,
        "torch_dtype": config.get("dtype", config.get("torch_dtype")),
        "quantization_config": config.get("quantization_config"),
        "packing": packing,
    }
