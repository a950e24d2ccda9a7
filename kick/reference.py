"""An already-compressed checkpoint evaluated against its dense base, as a kick-compressed cell.

`kick eval COMPRESSED --reference DENSE` and the sweep entry
`models = [{ model = "COMPRESSED", reference = "DENSE" }]` both become a run of the dense
reference whose compression is the `checkpoint` compressor (registered by the built-in model
plugin): it loads COMPRESSED in the reference's place, so both variants go through the same
tasks, comparison, verdicts and report, and the summary's compression records the checkpoint's
own `quantization_config`. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kick.errors import SpecError

CHECKPOINT = "checkpoint"
"""The compressor that puts an already-compressed model in place of its reference."""

CheckpointCell = tuple[str, tuple[tuple[str, Any], ...], str]
"""(method, params, cell name) of one checkpoint evaluated against a reference."""


def reference_options(compressed: str, reference: str) -> dict[str, Any]:
    """`build_run_spec` options for `kick eval COMPRESSED --reference DENSE`."""
    if compressed == reference:
        raise SpecError("--reference is the dense base of the compressed model: give a different model")
    return {"model": reference, "method": CHECKPOINT, "params": [f"path={compressed}"]}


def checkpoint_cell(compressed: str) -> CheckpointCell:
    slug = "".join(c if c.isalnum() or c in "._-" else "_" for c in compressed.strip("/").replace("/", "__"))
    return (CHECKPOINT, (("path", compressed),), f"checkpoint-{slug or 'model'}")


def split_references(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[CheckpointCell]]]:
    """A sweep mapping whose `models` may hold `{model, reference}` entries: the mapping with
    each such entry replaced by its reference (listed once, where it first appears), and per
    reference the checkpoint cells to run against it."""
    raw = data.get("models")
    if not isinstance(raw, list) or not any(isinstance(m, Mapping) and "reference" in m for m in raw):
        return dict(data), {}
    models: list[Any] = []
    cells: dict[str, list[CheckpointCell]] = {}
    names: set[str] = set()
    for item in raw:
        if isinstance(item, Mapping) and "reference" in item:
            extra = set(item) - {"model", "reference"}
            compressed, reference = item.get("model"), item.get("reference")
            if extra or not isinstance(compressed, str) or not isinstance(reference, str):
                raise SpecError(
                    f"sweep spec: a reference entry is {{ model = ..., reference = ... }}, got {dict(item)!r}"
                )
            if compressed == reference:
                raise SpecError(f"sweep spec: {compressed!r} is given as its own reference")
            cells.setdefault(reference, []).append(checkpoint_cell(compressed))
            item = reference
        name = item if isinstance(item, str) else (item.get("name") if isinstance(item, Mapping) else None)
        if name not in names:
            models.append(item)
            names.add(str(name))
    return {**data, "models": models}, cells
