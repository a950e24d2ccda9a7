"""Build a dataset folder in the layout the Hub serves: `<config>/<split>-00000-of-00001.parquet`
for every config of `dataset_builder/schema.py` (plus optional `<config>_mini` variants) and a dataset card.

`collect` reads and curates (pure except for reading files); `write_folder` writes Parquet and
the card. Heavy libraries (pyarrow, huggingface_hub) are imported inside the functions that use
them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dataset_builder import curate, readers, sources
from dataset_builder.card import build_card
from dataset_builder.layout import Tables, field_types, shard_path
from dataset_builder.rows import freebaseqa_file, mmlu_csv_rows, story_buckets
from dataset_builder.rows import freebaseqa_questions as read_freebaseqa
from dataset_builder.schema import CONFIGS, MINI_SUFFIX, base_config
from dataset_builder.stats import SplitStats, TokenCounter, split_stats
from kick.errors import DataError


def _need(path: Path) -> Path:
    if not path.exists():
        raise DataError(f"{path}: not found (is --from the shared data folder?)")
    return path


def freebaseqa_questions(raw: Path, split: str) -> list[readers.FreebaseQuestion]:
    """The official 2019 JSON if present, else the derived v1.1 JSON, else the `.tab` release."""
    d = _need(raw / sources.FREEBASEQA_DIR)
    return read_freebaseqa(freebaseqa_file(d, split), split)


def mmlu_split(raw: Path, split: str) -> list[dict[str, Any]]:
    d = _need(raw / sources.MMLU_DIR)
    _need(d / sources.MMLU_SPLIT_DIRS[split])
    found = mmlu_csv_rows(d, split)
    if not found:
        raise DataError(
            f"{d / sources.MMLU_SPLIT_DIRS[split]}: no MMLU files '*_{sources.MMLU_SPLIT_DIRS[split]}.csv'"
        )
    return found


def stories(raw: Path) -> dict[str, list[readers.Story]]:
    d = raw / sources.STORIES_DIR
    for bucket in sources.BUCKETS:
        _need(d / bucket)
    return curate.assign_buckets(story_buckets(d), sources.BUCKETS)


def collect(raw: Path) -> Tables:
    """Read every raw source under `raw` (the shared data folder) into schema rows."""
    raw = Path(raw)
    tables: Tables = {
        "factoid_qa": {s: curate.factoid_rows(freebaseqa_questions(raw, s)) for s in ("eval", "dev")},
        "mmlu": {s: mmlu_split(raw, s) for s in ("dev", "validation", "test")},
        "icrqa_nq_open": {
            "test": curate.nq_rows(readers.read_nq_open_oracle(_need(raw / sources.NQ_OPEN_ORACLE)))
        },
        "icrqa_squad": {
            "validation": curate.squad_rows(readers.read_squad_json(_need(raw / sources.SQUAD_DEV)))
        },
    }
    for bucket, kept in stories(raw).items():
        tables[f"summarization_{bucket}"] = {"test": curate.summarization_rows(bucket, kept)}
    tables["vicuna_bench"] = {
        "test": curate.vicuna_rows(
            readers.read_vicuna_questions(_need(raw / sources.VICUNA_QUESTIONS)),
            readers.read_vicuna_answers(_need(raw / sources.VICUNA_ANSWERS)),
        )
    }
    tables["mt_bench"] = {
        "test": curate.mt_bench_rows(
            readers.read_mt_bench_questions(_need(raw / sources.MT_BENCH_QUESTIONS)),
            readers.read_mt_bench_answers(_need(raw / sources.MT_BENCH_REFERENCES)),
        )
    }
    tables["wikitext2"] = {
        "test": curate.wikitext_rows(readers.read_wikitext_raw(_need(raw / sources.WIKITEXT2_TEST)))
    }
    for config, splits in tables.items():
        validate(config, splits)
    return tables


def mini_split(
    config: str, split: str, rows: list[dict[str, Any]], n: int, seed: int
) -> list[dict[str, Any]]:
    """MMLU dev stays whole (the 5-shot pool) and MMLU splits are sampled per subject; WikiText-2
    keeps its first n lines (perplexity needs contiguous text); everything else is a seeded
    sample of n rows in the original order."""
    if config == "mmlu":
        return rows if split == "dev" else curate.subsample(rows, n, seed, stratify="subject")
    if config == "wikitext2":
        return rows[:n]
    return curate.subsample(rows, n, seed)


def mini_tables(tables: Tables, n: int, seed: int) -> Tables:
    """`<config>_mini` for every config: at most n rows per split (see `mini_split`)."""
    return {
        config + MINI_SUFFIX: {
            split: mini_split(config, split, rows, n, seed) for split, rows in splits.items()
        }
        for config, splits in tables.items()
    }


def validate(config: str, splits: dict[str, list[dict[str, Any]]]) -> None:
    """Every config and split of the schema is present and every row has exactly its fields."""
    spec = CONFIGS[base_config(config)]
    if sorted(splits) != sorted(spec["splits"]):
        raise DataError(f"config {config}: splits {sorted(splits)} != schema {sorted(spec['splits'])}")
    want = {"id", "source", "license", *spec["fields"]}
    for split, rows in splits.items():
        for row in rows:
            if set(row) != want:
                raise DataError(
                    f"config {config}/{split} row {row.get('id')}: fields {sorted(row)} != {sorted(want)}"
                )
        ids = [r["id"] for r in rows]
        if len(set(ids)) != len(ids):
            raise DataError(f"config {config}/{split}: duplicate row ids")


# --------------------------------------------------------------------------- writing


def write_parquet(path: Path, config: str, rows: Sequence[dict[str, Any]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"string": pa.string(), "list[string]": pa.list_(pa.string())}
    schema = pa.schema([(name, types[t]) for name, t in field_types(config).items()])
    table = pa.Table.from_pylist([{k: r[k] for k in schema.names} for r in rows], schema=schema)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


@dataclass(frozen=True)
class BuildResult:
    out: Path
    stats: list[SplitStats]
    files: list[str]


def table_stats(tables: Tables, count_tokens: TokenCounter | None = None) -> list[SplitStats]:
    return [
        split_stats(config, split, rows, count_tokens)
        for config, splits in tables.items()
        for split, rows in splits.items()
    ]


def write_folder(out: Path, tables: Tables, count_tokens: TokenCounter | None = None) -> BuildResult:
    """Write all shards and the card into `out` atomically (a temp folder renamed into place);
    `out` must not exist or be empty."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(f"{out}: output folder exists and is not empty")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        files = []
        for config, splits in tables.items():
            for split, rows in splits.items():
                rel = shard_path(config, split)
                write_parquet(tmp / rel, config, rows)
                files.append(rel)
        stats = table_stats(tables, count_tokens)
        build_card(tables, stats).save(str(tmp / "README.md"))
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return BuildResult(out, stats, ["README.md", *files])


def build(
    raw: Path,
    out: Path,
    *,
    mini: int | None = None,
    seed: int = 0,
    count_tokens: TokenCounter | None = None,
) -> BuildResult:
    """Read `raw` (the shared data folder), curate, and write a Hub-layout dataset folder."""
    tables = collect(Path(raw))
    if mini is not None:
        tables.update(mini_tables(tables, mini, seed))
    return write_folder(Path(out), tables, count_tokens)


def hf_token_counter(tokenizer: str) -> TokenCounter:
    """Token counts from a local Hugging Face tokenizer folder (no network)."""
    try:
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(tokenizer, local_files_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to load is a user error here
        raise DataError(f"cannot load tokenizer {tokenizer!r} locally: {e}") from None
    return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
