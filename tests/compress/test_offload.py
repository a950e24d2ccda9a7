"""`--offload`: decoder blocks read from disk one at a time give the same masks and weights as
compressing the model in memory, and the saved folder loads; formats that cannot be read lazily
are refused in one line before any work."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.tiny import random_text, save_tiny_llama

from kick.compress import compress_to_folder
from kick.plugins import load_plugins
from kick.spec import build_run_spec

pytestmark = pytest.mark.torch
CALIB = {"nsamples": 4, "seqlen": 32, "batch_size": 2}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    base = tmp_path_factory.mktemp("offload")
    text = base / "calib.txt"
    text.write_text(random_text(2000, seed=5))
    return save_tiny_llama(str(base / "tiny")), str(text)


def _state(path: Path) -> dict:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path)).state_dict()


@pytest.mark.parametrize(
    "method,params",
    [
        ("magnitude", {"sparsity": 0.5}),
        ("wanda", {"sparsity": 0.5, **CALIB}),
        ("sparsegpt", {"pattern": "2:4", **CALIB}),
        ("gptq", {"bits": 4, "group_size": 32, **CALIB}),
    ],
)
def test_offloaded_compression_saves_the_same_weights_as_in_memory(
    folder: tuple[str, str], tmp_path: Path, method: str, params: dict
) -> None:
    import torch

    src, calib = folder
    if method != "magnitude":
        params = {**params, "calibration": calib}
    spec = build_run_spec(
        file={}, model=src, method=method, params=[f"{k}={v}" for k, v in params.items()], include_dense=False
    )
    plugins = load_plugins()
    a = compress_to_folder(spec, tmp_path / "memory", plugins=plugins)
    b = compress_to_folder(spec, tmp_path / "offload", plugins=plugins, offload=True)
    sa, sb = _state(tmp_path / "memory"), _state(tmp_path / "offload")
    assert sa.keys() == sb.keys()
    assert all(torch.equal(sa[k], sb[k]) for k in sa), [k for k in sa if not torch.equal(sa[k], sb[k])]
    zeros = sum(int((sa[k] == 0).sum()) for k in sa if ".layers." in k and k.endswith("proj.weight"))
    assert zeros > 0 or method == "gptq"
    ca, cb = a["compression"], b["compression"]
    assert ca["layers"] == cb["layers"] and ca["zeros"] == cb["zeros"]  # gptq: zero_fraction, not sparsity
    assert cb["offload"] is True and "offload" not in ca
    assert b["model"]["offload"] is True
    index = json.loads((tmp_path / "offload" / "model.safetensors.index.json").read_text())
    assert len({f for f in index["weight_map"].values()}) == 3  # two blocks and the rest
    # gptq packs in memory; offloaded, its blocks are written as dense shards (never whole in memory)
    assert (a["saved"]["packing"] is not None) == (method == "gptq") and b["saved"]["packing"] is None


def test_kick_run_with_offload_evaluates_like_in_memory(folder: tuple[str, str], tmp_path: Path, cli) -> None:
    src, calib = folder
    rows = {}
    for name, extra in (("memory", []), ("offload", ["--offload"])):
        out = tmp_path / name
        res = cli(
            "run", src, "--method", "wanda", "-p", "sparsity=0.5", "-p", f"calibration={calib}",
            "-p", "nsamples=4", "-p", "seqlen=32", "--task", "perplexity", "--task-param",
            f"perplexity.data={calib}", "--task-param", "perplexity.seqlen=32", "--task-param",
            "perplexity.max_windows=4", "--out", out, *extra, plugins=load_plugins(),
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        rows[name] = sorted(
            (r["variant"], r["scores"]) for r in map(json.loads, (out / "records.jsonl").read_text().splitlines())
        )
    assert rows["memory"] == rows["offload"] and len(rows["memory"]) == 2


def test_offload_refuses_formats_it_cannot_read_lazily(cli, tmp_path: Path) -> None:
    plugins = load_plugins()
    res = cli("compress", "smollm2-135m", "--method", "magnitude", "--out", tmp_path / "a", "--offload", plugins=plugins)
    assert res.exit_code == 2 and "GGUF" in res.output and len(res.output.strip().splitlines()) == 1
    bin_folder = tmp_path / "bin"
    bin_folder.mkdir()
    (bin_folder / "config.json").write_text("{}")
    (bin_folder / "pytorch_model.bin").write_bytes(b"")
    res = cli("compress", bin_folder, "--method", "magnitude", "--out", tmp_path / "b", "--offload", plugins=plugins)
    assert res.exit_code == 2 and "safetensors" in res.output and ".bin" in res.output
    res = cli("run", "no/such/folder", "--method", "magnitude", "-t", "perplexity", "--out", tmp_path / "c", "--offload",
              plugins=plugins)  # fmt: skip
    assert res.exit_code == 2 and "not a folder" in res.output
    assert not any((tmp_path / d).exists() for d in "abc")


def test_one_block_in_memory_at_a_time(folder: tuple[str, str]) -> None:
    from kick.plugins import load_model
    from kick.types import ModelSpec

    src, calib = folder
    plugins = load_plugins()
    model = load_model(ModelSpec(src), plugins, offload=True)
    blocks = model.offloaded_blocks
    assert all(blocks.on_disk(i) for i in range(len(blocks.blocks)))
    in_memory: list[int] = []
    load = blocks.load

    def counting_load(block):  # how many blocks hold real weights once this one is read
        load(block)
        in_memory.append(sum(not blocks.on_disk(i) for i in range(len(blocks.blocks))))

    blocks.load = counting_load
    comp = plugins.registry.create("compressor", "sparsegpt", calibration=calib, **CALIB)
    stats = comp.compress(model)
    assert in_memory == [1, 1] and stats["offload"] is True
    assert all(blocks.on_disk(i) for i in range(len(blocks.blocks)))


def test_a_sweep_with_offload_gives_the_same_records(folder: tuple[str, str], tmp_path: Path) -> None:
    from kick.sweep import run_sweep
    from kick.sweep_spec import levels_from, parse_sweep_spec

    src, calib = folder
    plugins = load_plugins()
    data = {
        "model": src, "methods": ["sparsegpt"], "sparsity": [0.5],
        "params": {"sparsegpt": {"calibration": calib, **CALIB}},
        "tasks": ["perplexity"], "task_params": {"perplexity": {"data": calib, "seqlen": 32, "max_windows": 3}},
    }  # fmt: skip
    spec = parse_sweep_spec(data, levels_of=levels_from(plugins))
    run_sweep(spec, tmp_path / "memory", plugins=plugins)
    run_sweep(spec, tmp_path / "offload", plugins=plugins, offload=True)

    def records(out: Path) -> list:
        return sorted(
            (f.parent.name, line) for f in out.glob("*/*/records.jsonl") for line in f.read_text().splitlines()
        )

    assert records(tmp_path / "memory") == records(tmp_path / "offload") and len(records(tmp_path / "memory")) == 2


def test_offload_refuses_a_save_dtype_before_any_work(folder: tuple[str, str], cli, tmp_path: Path) -> None:
    src, _ = folder
    res = cli("compress", src, "--method", "magnitude", "--out", tmp_path / "a", "--offload", "--save-dtype", "bf16",
              plugins=load_plugins())  # fmt: skip
    assert res.exit_code == 2 and "--save-dtype" in res.output and len(res.output.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()


def test_each_block_gives_its_freed_heap_back(folder: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """glibc keeps freed chunks in the heap: without a malloc_trim per block the resident set of an
    offloaded compression grew by about a block's worth per block (benchmarks/bench_offload.py)."""
    import platform

    from kick_layerwise import sequential

    from kick.plugins import load_model
    from kick.types import ModelSpec

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert sequential._TRIM is not None
    calls: list[int] = []
    trim = sequential._TRIM
    monkeypatch.setattr(sequential, "_TRIM", lambda pad: calls.append(pad) or (trim(pad) if trim else 0))
    src, calib = folder
    plugins = load_plugins()
    model = load_model(ModelSpec(src), plugins, offload=True)
    plugins.registry.create("compressor", "wanda", calibration=calib, **CALIB).compress(model)
    assert calls == [0] * 3 * len(model.offloaded_blocks.blocks)  # statistics, compression, outputs


def test_offload_maps_large_allocations_on_glibc(folder: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """With --offload, allocations of 128 KiB and more get their own mapping (glibc mallopt):
    measured peak 717 MB instead of 944 MB (trim only) on SmolLM2 (benchmarks/bench_offload.py)."""
    import ctypes
    import platform

    from kick_layerwise import offload

    from kick.plugins import load_model
    from kick.types import ModelSpec

    calls: list[tuple[int, int]] = []

    class Libc:
        def mallopt(self, param: int, value: int) -> int:
            calls.append((param, value))
            return 1

    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        assert offload.map_large_allocations() is True  # the real call succeeds
    monkeypatch.setattr(ctypes, "CDLL", lambda _name: Libc())
    load_model(ModelSpec(folder[0]), load_plugins(), offload=True)
    assert calls == [(offload.M_MMAP_THRESHOLD, 128 * 1024)]
