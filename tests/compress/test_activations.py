"""`activations=disk`: the sequential calibration keeps a block's activations in scratch files,
one batch in memory, with the same compressed weights as in memory; the files are removed
afterwards, also when the compression fails; a bad value is refused before any work."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch
from kick_layerwise import activations
from kick_layerwise.activations import OnDisk
from support.tiny import random_text, tiny_llama

from kick.errors import SpecError
from kick.plugins import load_plugins

pytestmark = pytest.mark.torch
CALIB = dict(calibration="text:" + random_text(3000, seed=3), nsamples=5, seqlen=32, batch_size=2)  # uneven last batch


def _compress(method: str, **extra: Any) -> dict[str, torch.Tensor]:
    model = tiny_llama(0)
    params = {"pattern": "2:4"} if method == "sparsegpt" else {"sparsity": 0.5}
    load_plugins().registry.create("compressor", method, **params, **CALIB, **extra).compress(model)
    return {k: v.clone() for k, v in model.module.state_dict().items()}


class _Spy(OnDisk):
    """An OnDisk store that records its folder, what it held, and how it was read."""

    made: list[_Spy] = []

    def __init__(self, parent: Path | None = None) -> None:
        super().__init__(parent)
        self.sizes: list[int] = []
        self.reads = 0
        _Spy.made.append(self)

    def get(self, j: int) -> torch.Tensor:
        self.reads += 1
        self.sizes.append(sum(p.stat().st_size for p in self.folder.iterdir()))
        return super().get(j)


@pytest.mark.parametrize("method", ["wanda", "sparsegpt"])
def test_disk_activations_give_the_same_weights_and_leave_no_files(
    method: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(activations, "OnDisk", _Spy)
    _Spy.made.clear()
    memory = _compress(method)
    assert _Spy.made == []  # the default keeps them in memory
    disk = _compress(method, activations="disk")
    assert memory.keys() == disk.keys()
    assert all(torch.equal(memory[k], disk[k]) for k in memory), [k for k in memory if not torch.equal(memory[k], disk[k])]
    (spy,) = _Spy.made
    hidden = tiny_llama(0).module.config.hidden_size
    one_direction = 5 * 32 * hidden * 4  # N x L x hidden float32, per file
    assert spy.folder.parent == tmp_path and max(spy.sizes) == 2 * one_direction
    assert spy.reads == 2 * 2 * 3  # two blocks, two passes each (statistics, outputs), three batches
    assert not spy.folder.exists() and not list(tmp_path.glob("kick-activations-*"))


def test_disk_activations_are_removed_when_compression_fails(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from kick_layerwise import sequential
    from kick_layerwise.topology import find_blocks

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(activations, "OnDisk", _Spy)
    _Spy.made.clear()

    def broken(*_a: Any) -> None:
        assert list(_Spy.made[0].folder.iterdir())  # the files exist while the block is processed
        raise RuntimeError("boom")

    model = tiny_llama(0)
    topology = find_blocks(model.module)
    ids = torch.randint(0, 100, (3, 16))
    with pytest.raises(RuntimeError, match="boom"):
        sequential.calibrate_sequentially(model.module, topology, ids, "norms", broken, activations="disk")
    assert not _Spy.made[0].folder.exists() and not list(tmp_path.glob("kick-activations-*"))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_the_files_give_back_the_exact_bytes(dtype: torch.dtype, tmp_path: Path) -> None:
    store = OnDisk(tmp_path)
    batches = [torch.randn(2, 7, 5).to(dtype), torch.randn(1, 7, 5).to(dtype)]
    for b in batches:
        store.append(b)
    assert len(store) == 2 and all(torch.equal(store.get(j), b) for j, b in enumerate(batches))
    outs = [b * 3 for b in batches]
    for j, o in enumerate(outs):
        store.put(j, o)
        assert torch.equal(store.get(j), batches[j])  # inputs unchanged until the next block
    store.next_block()
    assert all(torch.equal(store.get(j), o) for j, o in enumerate(outs))
    with pytest.raises(ValueError, match="expected"):
        store.put(0, torch.zeros(3, 7, 5, dtype=dtype))
    store.close()
    assert not list(tmp_path.glob("kick-activations-*"))


def test_offloaded_blocks_put_the_activation_files_in_their_scratch_folder(tmp_path: Path) -> None:
    from support.tiny import save_tiny_llama

    from kick.plugins import load_model
    from kick.types import ModelSpec

    src = save_tiny_llama(str(tmp_path / "tiny"))
    plugins = load_plugins()
    model = load_model(ModelSpec(src), plugins, offload=True)
    seen: list[Path] = []
    original = activations.OnDisk.__init__

    def spy(self: OnDisk, parent: Path | None = None) -> None:
        original(self, parent)
        seen.append(self.folder)

    try:
        activations.OnDisk.__init__ = spy  # type: ignore[method-assign]
        comp = plugins.registry.create("compressor", "wanda", sparsity=0.5, activations="disk", **CALIB)
        comp.compress(model)
    finally:
        activations.OnDisk.__init__ = original  # type: ignore[method-assign]
    assert [f.parent for f in seen] == [model.offloaded_blocks.scratch] and not seen[0].exists()


@pytest.mark.parametrize("method", ["wanda", "sparsegpt", "gptq"])
def test_a_bad_activations_value_is_one_clear_error(method: str) -> None:
    with pytest.raises(SpecError, match="activations must be memory or disk"):
        load_plugins().registry.create("compressor", method, activations="ssd")
