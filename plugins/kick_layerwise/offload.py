"""Decoder blocks left on disk: compression of a model larger than memory (`--offload`).

The model is built with its parameters on the meta device (no memory); the weights outside the
decoder blocks (embeddings, final norm, LM head: a few percent of a 7B model) are read from the
safetensors files, and each block is read only when the sequential loop reaches it
(`load`), compressed on the calibration activations, written to a scratch safetensors file
(`finish`) and dropped back to meta. At any time one block's weights are in memory, plus one
block's activations. The compressed model is saved from those files (`save`) without ever
being whole in memory; evaluating it reads every block (`materialize`).

safetensors is what makes this work: a file's header lists every tensor's offset, so one
block's tensors are read (memory-mapped) without touching the rest of the file.
"""

from __future__ import annotations

import ctypes
import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from kick import ModelLoadError

INDEX = "model.safetensors.index.json"


class WeightFiles:
    """Which safetensors file holds each tensor of a model folder (read from the headers)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.where: dict[str, Path] = {}
        files = sorted(folder.glob("*.safetensors"))
        if not files:
            raise ModelLoadError(f"{folder} has no safetensors files: --offload cannot read it lazily")
        for f in files:
            with safe_open(str(f), framework="pt") as sf:
                for name in sf.keys():  # noqa: SIM118 - safe_open is not a Mapping
                    self.where[name] = f

    def read(self, names: Iterable[str]) -> dict[str, torch.Tensor]:
        by_file: dict[Path, list[str]] = {}
        for n in names:
            by_file.setdefault(self.where[n], []).append(n)
        out: dict[str, torch.Tensor] = {}
        for f, ns in by_file.items():
            with safe_open(str(f), framework="pt") as sf:
                for n in ns:
                    out[n] = sf.get_tensor(n)
        return out


def _drop(module: nn.Module) -> None:
    """Replace every parameter by a meta tensor of its shape and dtype (frees its memory)."""
    for sub in module.modules():
        for name, p in list(sub._parameters.items()):
            if p is not None and not p.is_meta:
                meta = torch.empty(p.shape, dtype=p.dtype, device="meta")
                sub._parameters[name] = nn.Parameter(meta, requires_grad=p.requires_grad)


def _assign(module: nn.Module, tensors: Mapping[str, torch.Tensor], device: torch.device) -> None:
    """Give `module` these tensors (names relative to it), cast to the dtypes it was built with."""
    params = dict(module.named_parameters())
    state = {}
    for name, t in tensors.items():
        dtype = params[name].dtype if name in params else t.dtype
        state[name] = t.to(device=device, dtype=dtype)
    module.load_state_dict(state, strict=False, assign=True)


M_MMAP_THRESHOLD = -3  # glibc mallopt parameter


def map_large_allocations(threshold: int = 128 * 1024) -> bool:
    """Serve every allocation of `threshold` bytes or more from its own memory mapping, returned
    to the system when freed (glibc `mallopt(M_MMAP_THRESHOLD)`, for the rest of the process);
    False where the C library is not glibc.

    glibc raises this threshold as large chunks are freed (up to 32 MB), so a block's tensors of
    a few MB end up in the heap, where freed ones leave holes kept in the resident set between
    longer-lived allocations. Measured on SmolLM2-135M with `--offload` (sparsegpt, 32 x 512):
    peak 1,724 MB with glibc's default, 944 MB trimming the heap after each block, 717 MB with
    the threshold fixed at 128 KiB. The cost is a page fault per page of each large allocation.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))


class OffloadedBlocks:
    """A model's decoder blocks, on disk until needed. `blocks`: (prefix, module) pairs in
    order, e.g. ("model.layers.0", <LlamaDecoderLayer>)."""

    def __init__(self, blocks: list[tuple[str, nn.Module]], files: WeightFiles, device: torch.device) -> None:
        self.blocks = blocks
        self.files = files
        self.device = device
        map_large_allocations()  # --offload is asked for to save memory: freed blocks really freed
        self.scratch = Path(tempfile.mkdtemp(prefix="kick-offload-"))
        self.written: dict[int, Path] = {}
        self._index = {id(m): i for i, (_, m) in enumerate(blocks)}
        for prefix, block in blocks:
            missing = [
                f"{prefix}.{n}" for n, _ in block.named_parameters() if f"{prefix}.{n}" not in files.where
            ]
            if missing:
                raise ModelLoadError(
                    f"--offload: {files.folder} has no tensor {missing[0]}; its tensor names differ from "
                    "the model's (load it without --offload)"
                )

    def index_of(self, block: nn.Module) -> int:
        return self._index[id(block)]

    def on_disk(self, i: int) -> bool:
        return any(p.is_meta for p in self.blocks[i][1].parameters())

    def load(self, block: nn.Module) -> None:
        """Read block `block` (its compressed file once written) onto the compute device."""
        i = self.index_of(block)
        if not self.on_disk(i):
            return
        prefix, module = self.blocks[i]
        if i in self.written:
            with safe_open(str(self.written[i]), framework="pt") as sf:
                tensors = {n: sf.get_tensor(n) for n in sf.keys()}  # noqa: SIM118
        else:
            names = [f"{prefix}.{n}" for n, _ in module.named_parameters()]
            tensors = {n[len(prefix) + 1 :]: t for n, t in self.files.read(names).items()}
        _assign(module, tensors, self.device)

    def finish(self, block: nn.Module) -> None:
        """Write the (compressed) block to the scratch folder and drop its weights."""
        i = self.index_of(block)
        module = self.blocks[i][1]
        path = self.scratch / f"block-{i:05d}.safetensors"
        save_file({n: p.detach().contiguous() for n, p in module.named_parameters()}, str(path))
        self.written[i] = path
        _drop(module)

    def materialize(self) -> None:
        """Every block in memory (evaluation needs the whole model)."""
        for _, module in self.blocks:
            self.load(module)

    def save(self, module: nn.Module, path: Path) -> None:
        """Write the model as sharded safetensors (one shard per block, one for the rest) with
        the index `from_pretrained` reads; blocks still on disk are copied from their files."""
        path.mkdir(parents=True, exist_ok=True)
        weight_map: dict[str, str] = {}
        total = 0
        block_prefixes = tuple(f"{p}." for p, _ in self.blocks)
        rest: dict[str, torch.Tensor] = {}
        seen: set[int] = set()  # a tied LM head is the embedding: written once, as the source had it
        for n, t in module.state_dict().items():
            if n.startswith(block_prefixes) or n not in self.files.where or t.data_ptr() in seen:
                continue
            seen.add(t.data_ptr())
            rest[n] = t.detach().contiguous()
        save_file(rest, str(path / "model-rest.safetensors"), metadata={"format": "pt"})
        for n, t in rest.items():
            weight_map[n], total = "model-rest.safetensors", total + t.numel() * t.element_size()
        for i, (prefix, block) in enumerate(self.blocks):
            name = f"model-block-{i:05d}.safetensors"
            if self.on_disk(i):
                self.load(block)
                tensors = {f"{prefix}.{n}": p.detach().contiguous() for n, p in block.named_parameters()}
                _drop(block)
            else:
                tensors = {f"{prefix}.{n}": p.detach().contiguous() for n, p in block.named_parameters()}
            save_file(tensors, str(path / name), metadata={"format": "pt"})
            for n, t in tensors.items():
                weight_map[n], total = name, total + t.numel() * t.element_size()
            del tensors
        index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
        (path / INDEX).write_text(json.dumps(index, indent=2) + "\n")

    def close(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __del__(self) -> None:
        self.close()


def skeleton(config: Any, dtype: torch.dtype, *, trust_remote_code: bool = False) -> nn.Module:
    """The model with every parameter on the meta device (buffers such as rotary tables real)."""
    from accelerate import init_empty_weights
    from transformers import AutoModelForCausalLM

    with init_empty_weights(include_buffers=False):
        module = AutoModelForCausalLM.from_config(config, dtype=dtype, trust_remote_code=trust_remote_code)
    return module


def load_outside_blocks(
    module: nn.Module, files: WeightFiles, block_prefixes: Iterable[str], device: torch.device
) -> None:
    """Read every weight that is not in a decoder block; tie the LM head if the config says so."""
    prefixes = tuple(f"{p}." for p in block_prefixes)
    names = [n for n in files.where if not n.startswith(prefixes)]
    _assign(module, files.read(names), device)
    if getattr(module.config, "tie_word_embeddings", False):
        module.tie_weights()
    left = [n for n, p in module.named_parameters() if p.is_meta and not n.startswith(prefixes)]
    if left:
        raise ModelLoadError(
            f"--offload: {files.folder} has no tensor {left[0]}; its tensor names differ from the model's "
            "(load it without --offload)"
        )


def block_prefixes(module: nn.Module, blocks: Iterable[nn.Module]) -> list[tuple[str, nn.Module]]:
    names = {id(m): n for n, m in module.named_modules()}
    return [(names[id(b)], b) for b in blocks]
