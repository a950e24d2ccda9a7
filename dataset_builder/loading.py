"""The one reader of built datasets: a local folder written by `kick data build`, or a Hub repo.

    from dataset_builder.loading import load_split, read_rows
    ds = load_split("/path/to/built", "mmlu", "test")        # datasets.Dataset
    rows = read_rows("/path/to/built", "mmlu", "dev")         # list[dict], pyarrow only

Both check the config against `dataset_builder/schema.py` and the columns against its fields.
Tasks reach it through `dataset_builder.rows`, which adds provenance.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dataset_builder.layout import SHARD_SUFFIX, expected_columns
from kick.errors import DataError


def _check_columns(config: str, columns: list[str], where: str) -> None:
    want = expected_columns(config)
    if set(columns) != want:
        raise DataError(
            f"{where}: columns {sorted(columns)} do not match the schema of {config!r} {sorted(want)}"
        )


def configs_in(folder: str | Path) -> dict[str, list[str]]:
    """config -> splits found in a built folder (from the shard layout), sorted by config."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder")
    out: dict[str, list[str]] = {}
    for shard in sorted(folder.glob(f"*/*{SHARD_SUFFIX}")):
        out.setdefault(shard.parent.name, []).append(shard.name[: -len(SHARD_SUFFIX)])
    if not out:
        raise DataError(f"{folder}: no '<config>/<split>{SHARD_SUFFIX}' shards; run `kick data build`")
    return out


def is_built(path: Path, config: str) -> bool:
    """Whether `path` is a built dataset folder holding `config` (a `<config>/` of Parquet shards)."""
    return path.is_dir() and (path / config).is_dir() and any((path / config).glob("*.parquet"))


def shard(folder: str | Path, config: str, split: str) -> Path:
    path = Path(folder) / config / f"{split}{SHARD_SUFFIX}"
    if not path.is_file():
        found = ", ".join(f"{c}[{'/'.join(s)}]" for c, s in configs_in(folder).items())
        raise DataError(f"{folder}: no split {split!r} of config {config!r} (available: {found})")
    return path


def read_rows(folder: str | Path, config: str, split: str) -> list[dict[str, Any]]:
    """The rows of one split of a built folder as plain dicts (pyarrow only, no datasets cache)."""
    import pyarrow.parquet as pq

    expected_columns(config)
    path = shard(folder, config, split)
    try:
        table = pq.read_table(path)
    except Exception as e:  # noqa: BLE001 - a corrupt shard is a data error
        raise DataError(f"{path}: cannot read Parquet ({e})") from None
    _check_columns(config, table.column_names, str(path))
    return table.to_pylist()


def load_split(
    source: str | Path,
    config: str,
    split: str,
    *,
    revision: str | None = None,
    cache_dir: str | Path | None = None,
) -> Any:
    """A `datasets.Dataset` for one split: from a local built folder when `source` is a folder
    (no network), otherwise from the Hub dataset repo `source` (at `revision`). A folder without
    card metadata (only `<config>/<split>-*.parquet` shards) is read shard by shard."""
    expected_columns(config)
    if Path(source).is_dir():
        shard(source, config, split)  # clear error before datasets' own
        ds = _load_folder(Path(source), config, split, cache_dir)
    else:
        from dataset_builder.hub import load_from_hub

        ds = load_from_hub(str(source), config, split, revision, cache_dir)
    _check_columns(config, list(ds.column_names), f"{source} [{config}/{split}]")
    return ds


def _load_folder(folder: Path, config: str, split: str, cache_dir: str | Path | None) -> Any:
    import datasets

    cache = str(cache_dir) if cache_dir else None
    try:
        return datasets.load_dataset(str(folder), config, split=split, cache_dir=cache)
    except Exception as first:  # noqa: BLE001 - no card naming the config: read the shards directly
        shards = sorted((folder / config).glob(f"{split}-*.parquet"))
        try:
            return datasets.load_dataset(
                "parquet", data_files={split: [str(s) for s in shards]}, split=split, cache_dir=cache
            )
        except Exception:  # noqa: BLE001
            raise DataError(f"cannot load {folder} config {config!r} split {split!r}: {first}") from None
