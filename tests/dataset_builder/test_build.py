"""Building the curated LLM-KICK datasets from the real shared data, the dataset card, the
`load_dataset` round trip, and the `kick data` commands (offline; publishing uses a fake Hub)."""

from __future__ import annotations

import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from dataset_builder import build as builder
from dataset_builder import readers
from dataset_builder.loading import configs_in, load_split, read_rows
from dataset_builder.plugin import register_commands
from dataset_builder.rows import shared_data_dir
from dataset_builder.schema import CONFIGS
from dataset_builder.sources import SOURCES

RAW = shared_data_dir()
pytestmark = pytest.mark.skipif(RAW is None, reason="shared data not found (set KICK_SHARED_DATA)")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert RAW is not None
    out = tmp_path_factory.mktemp("built") / "llm-kick"
    builder.build(RAW, out)
    return out


@pytest.fixture(scope="module")
def rows(built: Path) -> dict[str, dict[str, list[dict[str, Any]]]]:
    return {c: {s: read_rows(built, c, s) for s in splits} for c, splits in configs_in(built).items()}


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """kick (test stand-in)"""

    register_commands(app)
    return app


# --------------------------------------------------------------------------- counts and curation


def test_every_schema_config_is_built_with_its_splits(built: Path) -> None:
    assert configs_in(built) == {c: sorted(spec["splits"]) for c, spec in sorted(CONFIGS.items())}


def test_row_counts_match_the_source_readme(rows: dict[str, dict[str, list[dict[str, Any]]]]) -> None:
    counts = {c: {s: len(r) for s, r in splits.items()} for c, splits in rows.items()}
    assert counts == {
        "factoid_qa": {"eval": 4000, "dev": 3995},
        "mmlu": {"dev": 285, "validation": 1531, "test": 14042},
        "icrqa_nq_open": {"test": 2655},
        "icrqa_squad": {"validation": 10570},
        "summarization_small": {"test": 30},
        "summarization_mid": {"test": 12},
        "summarization_large": {"test": 30},
        "vicuna_bench": {"test": 80},
        "mt_bench": {"test": 80},
        "wikitext2": {"test": 2891},
    }


def test_every_mmlu_row_has_four_choices_an_a_to_d_answer_and_its_category(rows: Any) -> None:
    for split, split_rows in rows["mmlu"].items():
        assert all(len(r["choices"]) == 4 for r in split_rows), split
        assert {r["answer"] for r in split_rows} == {"A", "B", "C", "D"}, split
        assert len({r["subject"] for r in split_rows}) == 57
    test = rows["mmlu"]["test"]
    assert Counter(r["category"] for r in test) == {
        "STEM": 3018,
        "humanities": 4705,
        "social sciences": 3077,
        "other": 3242,
    }
    assert test[0]["id"] == "abstract_algebra-test-0" and test[-1]["subject"] == "world_religions"


def test_no_highlight_text_inside_any_summarization_story(rows: Any) -> None:
    assert RAW is not None
    for bucket in ("small", "mid", "large"):
        for r in rows[f"summarization_{bucket}"]["test"]:
            raw_story = readers.read_story(
                RAW / "cnn_dm_summarization/selected_stories" / bucket / f"{r['id']}.story"
            )
            assert "@highlight" not in r["story"]
            assert r["highlights"] == list(raw_story.highlights)
            # the highlight block (what LLM-KICK appended to every prompt) is not in the story
            assert " ".join(r["highlights"]) not in r["story"]
            assert r["story"].endswith(raw_story.paragraphs[-1].split()[-1])


def test_story_paragraphs_are_separated_by_a_blank_line(rows: Any) -> None:
    story = next(r for r in rows["summarization_small"]["test"] if "potato salad" in r["story"])
    assert "crowd-funding website so successful.\n\nWell, maybe that and a little dill." in story["story"]
    assert "successful.Well" not in story["story"]


def test_no_story_is_in_two_buckets(rows: Any) -> None:
    ids = [r["id"] for b in ("small", "mid", "large") for r in rows[f"summarization_{b}"]["test"]]
    texts = [r["story"] for b in ("small", "mid", "large") for r in rows[f"summarization_{b}"]["test"]]
    assert len(ids) == len(set(ids)) == 72  # 90 files, 18 small stories repeated in mid
    assert len(set(texts)) == 72
    mid_words = [len(r["story"].split()) for r in rows["summarization_mid"]["test"]]
    assert min(mid_words) > max(len(r["story"].split()) for r in rows["summarization_small"]["test"])


def test_factoid_answers_hold_all_aliases_of_all_parses(rows: Any) -> None:
    by_id = {r["id"]: r for r in rows["factoid_qa"]["eval"]}
    assert by_id["FreebaseQA-v1.1-eval-0"]["answers"] == ["sandi toksvig"]
    assert sum(len(r["answers"]) > 1 for r in rows["factoid_qa"]["eval"]) > 0
    for r in rows["factoid_qa"]["eval"]:
        assert len({a.casefold() for a in r["answers"]}) == len(r["answers"]) > 0


def test_factoid_json_and_tab_releases_agree(rows: Any) -> None:
    assert RAW is not None
    from_tab = readers.group_freebaseqa_tab(
        readers.read_freebaseqa_tab(RAW / "freebaseqa/FreebaseQA-eval.tab"), "eval"
    )
    # both group rows by question in file order; 2 source questions have broken CSV quoting and
    # unquote differently, so compare the answer sets in order rather than keyed by text
    tab_answers = [{a.casefold() for p in q.parses for a in p.answer_names} for q in from_tab]
    json_answers = [{a.casefold() for a in r["answers"]} for r in rows["factoid_qa"]["eval"]]
    assert len(tab_answers) == 4000
    assert tab_answers == json_answers
    same_text = sum(
        q.question == r["question"] for q, r in zip(from_tab, rows["factoid_qa"]["eval"], strict=True)
    )
    assert same_text == 3998


def test_freebaseqa_txt_release_reads_every_pair() -> None:
    assert RAW is not None
    pairs = readers.read_freebaseqa_txt(RAW / "freebaseqa/FreebaseQA-eval.txt")
    assert len(pairs) == 4023
    assert len({p.question for p in pairs}) == 3999


def test_triviaqa_and_squad_readers_on_the_real_files() -> None:
    assert RAW is not None
    tqa = readers.read_triviaqa_json(RAW / "triviaqa/verified-wikipedia-dev.json")
    assert len(tqa) == 318
    assert tqa[0].value == "Martina Hingis" and "Hingis" in tqa[0].aliases
    assert all(e.text is None for q in tqa for e in q.evidence)
    squad = readers.read_squad_json(RAW / "squad_v1.1_dev/dev-v1.1.explorer-derived.json")
    assert len(squad) == 10570 and len({q.title for q in squad}) == 48


def test_instruction_sets_carry_their_references(rows: Any) -> None:
    vicuna = rows["vicuna_bench"]["test"]
    assert {r["reference_model"] for r in vicuna} == {"gpt-3.5-turbo:20230327"}
    assert Counter(r["category"] for r in vicuna)["math"] == 3
    mt = rows["mt_bench"]["test"]
    assert all(len(r["turns"]) == 2 for r in mt)
    with_ref = [r for r in mt if r["reference_turns"]]
    assert len(with_ref) == 30 and {r["category"] for r in with_ref} == {"math", "reasoning", "coding"}


def test_wikitext_rows_are_lf_lines(rows: Any) -> None:
    text = rows["wikitext2"]["test"]
    assert text[0]["text"] == " = Robert Boulter = \n"
    assert all(r["text"].endswith("\n") and "\r" not in r["text"] for r in text)


def test_every_row_names_its_source_and_license(rows: Any) -> None:
    for config, splits in rows.items():
        for split_rows in splits.values():
            pairs = {(r["source"], r["license"]) for r in split_rows}
            assert len(pairs) == 1, config
            source, license_id = pairs.pop()
            assert SOURCES[source].license == license_id


# --------------------------------------------------------------------------- card and round trip


def test_card_has_configs_license_and_citation_for_every_source(built: Path) -> None:
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(built / "README.md")
    meta = card.data.to_dict()
    assert {c["config_name"] for c in meta["configs"]} == set(CONFIGS)
    mmlu = next(c for c in meta["configs"] if c["config_name"] == "mmlu")
    assert mmlu["data_files"][2] == {"split": "test", "path": "mmlu/test-00000-of-00001.parquet"}
    for source in SOURCES.values():
        assert source.license in meta["license"]
        assert source.citation in card.text
        assert f"License: `{source.license}`" in card.text
    assert "highlights removed" in card.text or "`@highlight` reference summaries are removed" in card.text
    assert "| mmlu | test | 14042 |" in card.text


def test_load_dataset_round_trip_offline(built: Path, tmp_path: Path, no_network: None) -> None:
    import datasets

    for config, spec in CONFIGS.items():
        loaded = datasets.load_dataset(str(built), config, cache_dir=str(tmp_path / "cache"))
        assert sorted(loaded) == sorted(spec["splits"])
        for split in spec["splits"]:
            assert loaded[split].num_rows == len(read_rows(built, config, split))
    ds = load_split(built, "factoid_qa", "eval", cache_dir=tmp_path / "cache")
    assert ds[0]["answers"] == ["sandi toksvig"]


def test_mini_configs_are_seeded_and_keep_the_mmlu_shot_pool(rows: Any) -> None:
    tables = {c: {s: list(r) for s, r in splits.items()} for c, splits in rows.items()}
    mini = builder.mini_tables(tables, n=100, seed=0)
    assert mini == builder.mini_tables(tables, n=100, seed=0)
    assert len(mini["mmlu_mini"]["dev"]) == 285
    assert len(mini["mmlu_mini"]["test"]) == 57  # one question per subject
    assert len(mini["factoid_qa_mini"]["eval"]) == 100
    assert len(mini["vicuna_bench_mini"]["test"]) == 80
    assert mini["wikitext2_mini"]["test"] == rows["wikitext2"]["test"][:100]  # contiguous text
    assert (
        mini["factoid_qa_mini"]["eval"]
        != builder.mini_tables(tables, n=100, seed=1)["factoid_qa_mini"]["eval"]
    )


# --------------------------------------------------------------------------- CLI and publishing


def test_cli_build_writes_mini_configs_and_stats_prints_them(tmp_path: Path) -> None:
    out = tmp_path / "mini-build"
    result = CliRunner().invoke(
        cli(), ["data", "build", "--from", str(RAW), "--out", str(out), "--mini", "20"]
    )
    assert result.exit_code == 0, result.output
    assert "| mmlu_mini | test | 57 |" in result.output
    assert (out / "summarization_mid_mini" / "test-00000-of-00001.parquet").is_file()
    stats = CliRunner().invoke(cli(), ["data", "stats", str(out)])
    assert stats.exit_code == 0
    assert "| factoid_qa_mini | eval | 20 |" in stats.output


def test_cli_build_from_a_wrong_folder_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli(), ["data", "build", "--from", str(tmp_path), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: ")
    assert "not found" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_dry_run_prints_the_upload_and_makes_no_network_call(
    built: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    def no_client(*a: Any, **k: Any) -> Any:
        raise AssertionError("HfApi created during a dry run")

    monkeypatch.setattr(huggingface_hub, "HfApi", no_client)
    result = CliRunner().invoke(
        cli(),
        ["data", "publish", str(built), "--repo-id", "me/llm-kick", "--dry-run", "--private", "--tag", "v1"],
    )
    assert result.exit_code == 0, result.output
    assert "repo: me/llm-kick (dataset, private)" in result.output
    assert "tag: v1" in result.output
    assert "  mmlu/test-00000-of-00001.parquet  " in result.output
    assert "  README.md  " in result.output
    assert "dry run: nothing uploaded" in result.output


class RecordingHfApi:
    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __init__(self, token: str | None = None) -> None:
        self.calls.append(("init", (), {"token": token}))

    def create_repo(self, *a: Any, **k: Any) -> None:
        self.calls.append(("create_repo", a, k))

    def create_commit(self, *a: Any, **k: Any) -> Any:
        self.calls.append(("create_commit", a, k))
        return type("CommitInfo", (), {"oid": "abc123", "commit_url": "https://hub/commit/abc123"})()

    def create_tag(self, *a: Any, **k: Any) -> None:
        self.calls.append(("create_tag", a, k))


def test_publish_makes_exactly_one_commit_and_tags_it(
    built: Path, no_network: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import huggingface_hub

    RecordingHfApi.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHfApi)
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    result = CliRunner().invoke(
        cli(), ["data", "publish", str(built), "--repo-id", "me/llm-kick", "--tag", "v1"]
    )
    assert result.exit_code == 0, result.output
    assert "published: https://hub/commit/abc123" in result.output
    names = [c[0] for c in RecordingHfApi.calls]
    assert names == ["init", "create_repo", "create_commit", "create_tag"]
    assert RecordingHfApi.calls[0][2] == {"token": "hf_test_token"}
    assert RecordingHfApi.calls[1][2] == {"repo_type": "dataset", "private": False, "exist_ok": True}
    _, args, kwargs = RecordingHfApi.calls[2]
    assert args[0] == "me/llm-kick" and kwargs["repo_type"] == "dataset"
    uploaded = sorted(op.path_in_repo for op in args[1])
    assert uploaded == sorted(
        [
            "README.md",
            *(f"{c}/{s}-00000-of-00001.parquet" for c, spec in CONFIGS.items() for s in spec["splits"]),
        ]
    )
    assert RecordingHfApi.calls[3][2] == {"tag": "v1", "revision": "abc123", "repo_type": "dataset"}


def test_publish_failure_is_one_line_error(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub

    class Refusing(RecordingHfApi):
        def create_commit(self, *a: Any, **k: Any) -> Any:
            raise PermissionError("403 Forbidden")

    monkeypatch.setattr(huggingface_hub, "HfApi", Refusing)
    result = CliRunner().invoke(cli(), ["data", "publish", str(built), "--repo-id", "me/llm-kick"])
    assert result.exit_code == 2
    assert "error: publishing to me/llm-kick failed: PermissionError: 403 Forbidden" in result.output


def test_publish_rejects_a_bad_repo_id(built: Path) -> None:
    result = CliRunner().invoke(cli(), ["data", "publish", str(built), "--repo-id", "a/b/c", "--dry-run"])
    assert result.exit_code == 2
    assert "error: invalid dataset repo id 'a/b/c'" in result.output


def test_tasks_raw_rows_equal_the_built_rows(built: Path, rows: Any) -> None:
    """`dataset_builder.rows` reads the shared raw data with the builder's own discovery and
    curation: the rows a task gets from `data=shared` are the built rows (ids: see rows.py)."""
    from dataset_builder import rows as task_rows

    def raw(dataset: str, split: str = "test", **options: Any) -> list[dict[str, Any]]:
        source = task_rows.resolve(dataset, "shared", smoke=Path("unused"), split=split)
        return task_rows.read(dataset, source, split, **options).rows

    def without_id(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{k: v for k, v in r.items() if k != "id"} for r in rs]

    assert raw("factoid_qa", "eval") == rows["factoid_qa"]["eval"]
    assert raw("mmlu", "test") == rows["mmlu"]["test"]
    assert raw("mmlu", "val") == rows["mmlu"]["validation"]
    assert raw("wikitext2") == rows["wikitext2"]["test"]
    buckets = [r for b in ("small", "mid", "large") for r in rows[f"summarization_{b}"]["test"]]
    assert raw("summarization") == buckets
    nq = raw("icrqa")
    assert without_id(nq) == without_id(rows["icrqa_nq_open"]["test"]) and nq[0]["id"] == "nq-0"
    mt = raw("mt_bench")
    assert without_id(mt) == without_id(rows["mt_bench"]["test"]) and mt[0]["id"] == "81"
    built_source = task_rows.resolve("mmlu", str(built), smoke=Path("unused"))
    assert task_rows.read("mmlu", built_source, "dev").rows == rows["mmlu"]["dev"]
