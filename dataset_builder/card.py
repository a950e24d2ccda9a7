"""The dataset card (`README.md` with YAML metadata), built with huggingface_hub's
`DatasetCardData` / `DatasetCard` so that `datasets.load_dataset(folder, config)` and the Hub
read the config -> data_files mapping from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dataset_builder.layout import Tables, field_types, shard_path
from dataset_builder.schema import base_config
from dataset_builder.sources import CONFIG_SOURCE, LLM_KICK_CITATION, SOURCES, TASK_CATEGORIES
from dataset_builder.stats import SplitStats, render_table

if TYPE_CHECKING:
    from huggingface_hub import DatasetCard


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < limit:
            return label
    return "100K<n<1M"


def card_metadata(tables: Tables) -> dict[str, Any]:
    """The YAML metadata as plain data (configs with data_files, features, licenses ...)."""
    configs, infos = [], []
    for config, splits in tables.items():
        configs.append(
            {
                "config_name": config,
                "data_files": [{"split": s, "path": shard_path(config, s)} for s in splits],
            }
        )
        features = [
            {"name": n, "dtype": "string"} if t == "string" else {"name": n, "list": "string"}
            for n, t in field_types(config).items()
        ]
        # split sizes are in the card body; `datasets` wants num_bytes with them, which the
        # Hub computes itself, so dataset_info carries only the features
        infos.append({"config_name": config, "features": features})
    used = sorted({CONFIG_SOURCE[base_config(c)] for c in tables})
    total = sum(len(r) for splits in tables.values() for r in splits.values())
    return {
        "pretty_name": "LLM-KICK (curated)",
        "language": ["en"],
        "license": sorted({SOURCES[s].license for s in used}),
        "task_categories": sorted({t for c in tables for t in TASK_CATEGORIES[base_config(c)]}),
        "size_categories": [_size_category(total)],
        "tags": ["llm-kick", "compression", "evaluation"],
        "configs": configs,
        "dataset_info": infos,
    }


def card_body(tables: Tables, stats: Sequence[SplitStats]) -> str:
    used = sorted({CONFIG_SOURCE[base_config(c)] for c in tables})
    parts = [
        "# LLM-KICK (curated)",
        "",
        "The evaluation data of LLM-KICK (Jaiswal et al., *Compressing LLMs: The Truth is Rarely Pure "
        "and Never Simple*, ICLR 2024), rebuilt from the original releases by `kick data build` and "
        "normalized to the schema in `dataset_builder/schema.py`. Every row has `id`, `source` and `license`.",
        "",
        "Load one config with `datasets.load_dataset(<this repo or folder>, <config>, split=<split>)`.",
        "",
        "## Configs",
        "",
        "| config | source | splits |",
        "|---|---|---|",
    ]
    for config, splits in tables.items():
        src = SOURCES[CONFIG_SOURCE[base_config(config)]]
        parts.append(
            f"| `{config}` | {src.title} | {', '.join(f'{s} ({len(r)})' for s, r in splits.items())} |"
        )
    parts += [
        "",
        "## Statistics",
        "",
        "Lengths are means over the rows of each split.",
        "",
        render_table(stats),
        "",
    ]
    parts += ["## Sources, licenses and what was fixed", ""]
    for name in used:
        s = SOURCES[name]
        parts += [
            f"### {s.title} (`{name}`)",
            "",
            f"- License: `{s.license}` ({s.license_note})",
            f"- Homepage: {s.homepage}",
        ]
        parts += [f"- Fixed / changed: {fix}" for fix in s.fixes]
        parts += ["", "```bibtex", s.citation, "```", ""]
    parts += ["## Citation", "", "```bibtex", LLM_KICK_CITATION, "```", ""]
    return "\n".join(parts)


def build_card(tables: Tables, stats: Sequence[SplitStats]) -> DatasetCard:
    from huggingface_hub import DatasetCard, DatasetCardData

    meta = card_metadata(tables)
    data = DatasetCardData(
        pretty_name=meta.pop("pretty_name"),
        language=meta.pop("language"),
        license=meta.pop("license"),
        task_categories=meta.pop("task_categories"),
        size_categories=meta.pop("size_categories"),
        **meta,
    )
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{card_body(tables, stats)}")
