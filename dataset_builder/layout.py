"""The on-disk layout of a built dataset, shared by the writer (`build`), the card (`card`) and the
reader (`loading`): shard names, column types per config and the `Tables` shape. Pure; depends
only on `schema`, so the modules above it import it and never each other.
"""

from __future__ import annotations

from typing import Any

from dataset_builder.schema import COMMON_FIELDS, CONFIGS, base_config
from kick.errors import DataError

Row = dict[str, Any]
Tables = dict[str, dict[str, list[Row]]]  # config -> split -> rows

SHARD_SUFFIX = "-00000-of-00001.parquet"
SHARD = "{split}" + SHARD_SUFFIX


def shard_path(config: str, split: str) -> str:
    """`<config>/<split>-00000-of-00001.parquet`, relative to the dataset folder."""
    return f"{config}/{SHARD.format(split=split)}"


def field_types(config: str) -> dict[str, str]:
    """Column -> "string" | "list[string]", id/source/license first, in schema order."""
    spec = CONFIGS[base_config(config)]["fields"]
    cols = dict(COMMON_FIELDS)
    cols.update({k: "list[string]" if v.startswith("list[string]") else "string" for k, v in spec.items()})
    return cols


def expected_columns(config: str) -> set[str]:
    """The columns every split of `config` (or its `_mini` variant) has; unknown configs are an error."""
    if base_config(config) not in CONFIGS:
        raise DataError(f"unknown dataset config {config!r}; known: {', '.join(CONFIGS)}")
    return set(field_types(config))
