"""Data sources: built dataset folders (normalized schema), raw files in their original formats,
malformed rows as clear errors, and `data=shared` resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from kick.errors import DataError
from kick.plugins import load_plugins


def make(name: str, **params):  # type: ignore[no-untyped-def]
    return load_plugins().registry.create("task", name, **params)


def _write_built(root: Path, config: str, split: str, rows: list[dict]) -> None:  # type: ignore[type-arg]
    import datasets

    (root / config).mkdir(parents=True)
    datasets.Dataset.from_list(rows).to_parquet(str(root / config / f"{split}-00000-of-00001.parquet"))


def test_factoid_reads_a_built_folder(tmp_path: Path) -> None:
    rows = [
        {
            "id": "fb-1",
            "source": "x",
            "license": "y",
            "question": "What is the capital of Peru?",
            "answers": ["Lima"],
        },
        {"id": "fb-2", "source": "x", "license": "y", "question": "Who?", "answers": ["A", "B"]},
    ]
    _write_built(tmp_path, "factoid_qa", "eval", rows)
    task = make("factoid-qa", data=str(tmp_path))
    samples = task.samples()
    assert [s.id for s in samples] == ["fb-1", "fb-2"]
    assert samples[1].reference == ["A", "B"]
    src = task.settings()["source"]
    assert src["kind"] == "built" and src["config"] == "factoid_qa" and len(src["sha256"]) == 64


def test_mmlu_reads_a_built_folder_with_dev_shots(tmp_path: Path) -> None:
    def row(i: int, split: str) -> dict:  # type: ignore[type-arg]
        return {
            "id": f"{split}-{i}",
            "source": "s",
            "license": "l",
            "subject": "anatomy",
            "category": "other",
            "question": f"Q{i}?",
            "choices": ["a", "b", "c", "d"],
            "answer": "ABCD"[i % 4],
        }

    _write_built(tmp_path, "mmlu", "test", [row(i, "test") for i in range(3)])
    _write_built_split = tmp_path / "mmlu" / "dev-00000-of-00001.parquet"
    import datasets

    datasets.Dataset.from_list([row(i, "dev") for i in range(5)]).to_parquet(str(_write_built_split))
    task = make("mmlu", data=str(tmp_path), shots=2)
    assert len(task.samples()) == 3
    assert task.header("anatomy", 2).endswith("Q1?\nA. a\nB. b\nC. c\nD. d\nAnswer: B\n\n")


def test_raw_mmlu_csv_folder_and_malformed_answer(tmp_path: Path) -> None:
    for split in ("dev", "test"):
        (tmp_path / split).mkdir()
        (tmp_path / split / f"virology_{split}.csv").write_text('"Q, with comma?",a,b,c,d,C\n')
    task = make("mmlu", data=str(tmp_path))
    (s,) = task.samples()
    assert (
        s.prompt.startswith("Q, with comma?\nA. a") and s.reference == "C" and s.meta["category"] == "other"
    )
    (tmp_path / "test" / "virology_test.csv").write_text("Q?,a,b,c,d,E\n")
    with pytest.raises(DataError, match=r"virology_test.csv:1: answer must be one of A-D"):
        make("mmlu", data=str(tmp_path)).samples()


def test_freebaseqa_tab_rows_are_grouped_with_all_answers(tmp_path: Path) -> None:
    tab = tmp_path / "FreebaseQA-eval.tab"
    tab.write_text(
        "m\tN\tmid\tp\tnull\tamid\tparis\tWhat is the capital of France?\n"
        "m\tN\tmid\tp2\tnull\tamid\tparis, france\tWhat is the capital of France?\n"
    )
    (s,) = make("factoid-qa", data=str(tab)).samples()
    assert s.reference == ["paris", "paris, france"]


def test_malformed_jsonl_line_is_a_data_error(tmp_path: Path) -> None:
    bad = tmp_path / "qa.jsonl"
    bad.write_text('{"question": "q", "answers": ["a"], "ctxs": [{"title": "t", "text": "x"}]}\nnot json\n')
    with pytest.raises(DataError, match="qa.jsonl:2"):
        make("icrqa-closed", data=str(bad)).samples()


def test_data_shared_resolves_the_env_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mt_bench").mkdir()
    (tmp_path / "mt_bench" / "question.jsonl").write_text(
        '{"question_id": 81, "category": "writing", "turns": ["a", "b"]}\n'
    )
    monkeypatch.setenv("KICK_SHARED_DATA", str(tmp_path))
    task = make("mt-bench", data="shared")
    assert [s.id for s in task.samples()] == ["q81"]
    assert task.settings()["source"]["location"] == str(tmp_path / "mt_bench")


def test_perplexity_text_is_the_same_from_raw_and_built(tmp_path: Path) -> None:
    from dataset_builder import curate, readers

    raw = tmp_path / "wiki.test.raw"
    raw.write_bytes(b" = Title = \r\n\r\n Some text .\r\n")
    rows = curate.wikitext_rows(readers.read_wikitext_raw(raw))
    _write_built(tmp_path / "built", "wikitext2", "test", rows)
    text = make("perplexity", data=str(raw)).text()
    assert text == " = Title = \n\n Some text .\n" == make("perplexity", data=str(tmp_path / "built")).text()


# --------------------------------------------------------------------------- dataset_builder.rows


def test_rows_smoke_source_records_its_digest_and_the_file_read() -> None:
    from kick_tasks.common import SMOKE_DIR

    from dataset_builder import rows
    from kick.files import sha256_file

    smoke = SMOKE_DIR / "factoid_qa.json"
    source = rows.resolve("factoid_qa", "smoke", smoke=smoke, split="eval")
    assert (source.kind, source.location, source.digest) == ("smoke", str(smoke), sha256_file(smoke))
    got = rows.read("factoid_qa", source, "eval")
    assert got.source.as_dict() == {
        "kind": "smoke",
        "location": str(smoke),
        "sha256": sha256_file(smoke),
        "file": str(smoke),
    }
    assert got.rows and set(got.rows[0]) == {"id", "source", "license", "question", "answers"}


def test_rows_shared_env_wins_and_missing_data_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dataset_builder import rows

    (tmp_path / "freebaseqa").mkdir()
    (tmp_path / "freebaseqa" / "FreebaseQA-dev.v1_1.json").write_text('{"Questions": []}')
    monkeypatch.setenv("KICK_SHARED_DATA", str(tmp_path))
    assert rows.shared_data_dir() == tmp_path
    source = rows.resolve("factoid_qa", "shared", smoke=Path("unused"), split="dev")
    assert (source.kind, source.location) == ("raw", str(tmp_path / "freebaseqa/FreebaseQA-dev.v1_1.json"))
    with pytest.raises(DataError, match=r"data=shared: .*FreebaseQA-eval.v1_1.json does not exist"):
        rows.resolve("factoid_qa", "shared", smoke=Path("unused"), split="eval")
    assert rows.resolve("mmlu", "someone/llm-kick", smoke=Path("unused")).as_dict() == {
        "kind": "hub",
        "location": "someone/llm-kick",
        "config": "mmlu",
    }
    with pytest.raises(DataError, match="no such file or folder"):
        rows.resolve("mmlu", str(tmp_path / "nope"), smoke=Path("unused"))


def test_rows_raw_and_built_sources_give_the_same_normalized_rows(tmp_path: Path) -> None:
    """The same questions as a raw NQ-Open file and as a built folder: equal rows, except the
    ids (raw files keep the task's `nq-<i>`, the builder names them `nq-open-oracle-<i>`)."""
    from dataset_builder import curate, readers, rows

    raw = tmp_path / "nq.jsonl"
    raw.write_text(
        '{"question": " who  ", "answers": ["A", "a", "B"], "ctxs": [{"title": " T ", "text": " x "}]}\n'
        '{"question": "what", "answers": ["C"], "ctxs": [{"title": "U", "text": "y"}]}\n'
    )
    _write_built(
        tmp_path / "built", "icrqa_nq_open", "test", curate.nq_rows(readers.read_nq_open_oracle(raw))
    )
    from_raw = rows.read("icrqa", rows.resolve("icrqa", str(raw), smoke=raw))
    built_source = rows.resolve("icrqa", str(tmp_path / "built"), smoke=raw)
    from_built = rows.read("icrqa", built_source)
    assert [r["id"] for r in from_raw.rows] == ["nq-0", "nq-1"]
    assert [r["id"] for r in from_built.rows] == ["nq-open-oracle-0", "nq-open-oracle-1"]
    assert [{**r, "id": ""} for r in from_raw.rows] == [{**r, "id": ""} for r in from_built.rows]
    assert from_raw.rows[0]["answers"] == ["A", "B"] and from_raw.rows[0]["context_title"] == "T"
    assert from_raw.source.digest is not None and "file" not in from_raw.source.details
    built = from_built.source.as_dict()
    assert built["kind"] == "built" and built["config"] == "icrqa_nq_open" and built["fingerprint"]


def test_rows_folder_discovery_records_the_chosen_file(tmp_path: Path) -> None:
    from dataset_builder import rows
    from kick.files import sha256_file

    (tmp_path / "question.jsonl").write_text('{"question_id": 7, "text": "Hi?", "category": "generic"}\n')
    got = rows.read("vicuna_bench", rows.resolve("vicuna_bench", str(tmp_path), smoke=tmp_path))
    assert got.rows == [
        {
            "id": "7",
            "source": "vicuna_bench",
            "license": "unknown",
            "category": "generic",
            "question": "Hi?",
            "reference_answer": "",
            "reference_model": "",
        }
    ]
    assert got.source.details == {"file": str(tmp_path / "question.jsonl")}
    assert got.source.digest == sha256_file(tmp_path / "question.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no question.jsonl"):
        rows.read("mt_bench", rows.resolve("mt_bench", str(tmp_path / "empty"), smoke=tmp_path))


def test_rows_summarization_counts_cross_bucket_duplicates(tmp_path: Path) -> None:
    from dataset_builder import rows

    for bucket, name in (("small", "a"), ("mid", "a"), ("mid", "b")):
        (tmp_path / bucket).mkdir(exist_ok=True)
        (tmp_path / bucket / f"{name}.story").write_text(f"Story {name}.\n\n@highlight\n\nH {name}\n")
    got = rows.read("summarization", rows.resolve("summarization", str(tmp_path), smoke=tmp_path))
    assert [(r["bucket"], r["id"]) for r in got.rows] == [("small", "a"), ("mid", "b")]
    assert got.removed == 1
