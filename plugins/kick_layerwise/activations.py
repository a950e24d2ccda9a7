"""Where the sequential calibration keeps a block's input and output activations.

``memory`` (the default): a list of per-batch tensors, each output overwriting its input, so
about one block's activations (N x L x hidden) plus one batch are held.

``disk`` (``activations=disk``): two files in a temporary folder (inside the `--offload` scratch
folder when the blocks are offloaded, else in ``$TMPDIR``), one holding the block's inputs and
one receiving its outputs; they swap roles after each block. Only the batch being run is in
memory: it is read from its byte range into a fresh tensor and the output written to the other
file at the same offset. Plain reads and writes (unbuffered) rather than a memory map because a map's touched pages stay
in the process's resident set until the kernel reclaims them, which is what this option is
meant to avoid. The bytes are written and read back unchanged, so the results are identical to
``memory``. The folder is removed when the calibration ends, also on error.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import torch


class InMemory(list):  # type: ignore[type-arg]
    """The activations as a list of per-batch tensors (`get`/`put` index it)."""

    def get(self, j: int) -> torch.Tensor:
        return self[j]

    def put(self, j: int, t: torch.Tensor) -> None:
        self[j] = t

    def next_block(self) -> None:
        pass

    def close(self) -> None:
        self.clear()


class OnDisk:
    """The activations in two files (inputs, outputs), one batch in memory at a time."""

    def __init__(self, parent: Path | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="kick-activations-", dir=parent))
        self.files = [open(self.folder / n, "w+b", buffering=0) for n in ("a.bin", "b.bin")]  # noqa: SIM115
        self.slots: list[tuple[int, torch.Size, torch.dtype, torch.device]] = []  # offset, shape, dtype, device
        self.end = 0
        self.current = 0  # the file holding this block's inputs

    def __len__(self) -> int:
        return len(self.slots)

    def append(self, t: torch.Tensor) -> None:
        """Batch `len(self)` of the first block's inputs (captured from the model)."""
        self.slots.append((self.end, t.shape, t.dtype, t.device))
        self.end += t.numel() * t.element_size()
        self._write(self.files[self.current], len(self.slots) - 1, t)

    def get(self, j: int) -> torch.Tensor:
        offset, shape, dtype, device = self.slots[j]
        out = torch.empty(shape, dtype=dtype)
        view = out.view(-1).view(torch.uint8).numpy().data
        f = self.files[self.current]
        f.seek(offset)
        done = 0
        while done < len(view):
            n = f.readinto(view[done:])
            if not n:
                raise OSError(f"{self.folder}: activations file ended early")
            done += n
        return out.to(device)

    def put(self, j: int, t: torch.Tensor) -> None:
        """Batch `j` of this block's outputs (the next block's inputs)."""
        self._write(self.files[1 - self.current], j, t)

    def next_block(self) -> None:
        self.current = 1 - self.current

    def _write(self, f: BinaryIO, j: int, t: torch.Tensor) -> None:
        offset, shape, dtype, _ = self.slots[j]
        if t.shape != shape or t.dtype != dtype:
            raise ValueError(f"activations of batch {j}: {tuple(t.shape)} {t.dtype}, expected {tuple(shape)} {dtype}")
        view = t.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().data
        f.seek(offset)
        done = 0
        while done < len(view):
            done += f.write(view[done:]) or 0

    def close(self) -> None:
        for f in self.files:
            f.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def activation_store(place: str, parent: Path | None = None) -> InMemory | OnDisk:
    """An empty store for `place` (memory or disk); `parent`: where the disk folder goes."""
    return OnDisk(parent) if place == "disk" else InMemory()
