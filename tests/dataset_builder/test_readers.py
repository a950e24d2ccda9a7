"""Readers and curation helpers of `dataset_builder`, on small hand-made inputs (no shared data)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dataset_builder import curate, readers
from dataset_builder.mmlu_categories import CATEGORIES, SUBJECTS, category_of, subjects_in
from kick.errors import DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --------------------------------------------------------------------------- malformed inputs


def test_truncated_json_names_file_and_line(tmp_path: Path) -> None:
    good = {"Questions": [{"Question-ID": "q1", "RawQuestion": "Who?", "Parses": []}]}
    text = json.dumps(good, indent=1)
    path = write(tmp_path / "FreebaseQA-eval.json", text[: len(text) // 2])
    with pytest.raises(DataError) as e:
        readers.read_freebaseqa_json(path)
    last_line = text[: len(text) // 2].count("\n") + 1
    assert str(e.value).startswith(f"{path}:{last_line}: invalid JSON")


def test_truncated_jsonl_line_names_that_line(tmp_path: Path) -> None:
    line = json.dumps({"question": "q", "answers": ["a"], "ctxs": [{"title": "t", "text": "x"}]})
    path = write(tmp_path / "nq.jsonl", f"{line}\n{line}\n{line[:20]}\n")
    with pytest.raises(DataError, match=rf"^{path}:3: invalid JSON"):
        readers.read_nq_open_oracle(path)


def test_mmlu_row_with_five_columns_names_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "anatomy_test.csv", 'q1,a,b,c,d,A\n"multi\nline q",a,b,c,d,B\nq3,a,b,c,D\n')
    with pytest.raises(DataError) as e:
        readers.read_mmlu_csv(path)
    assert str(e.value) == f"{path}:4: expected 6 columns (question, A, B, C, D, answer), found 5"


def test_mmlu_answer_outside_a_to_d_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path / "anatomy_test.csv", "q1,a,b,c,d,E\n")
    with pytest.raises(DataError, match=rf"^{path}:1: answer must be one of A-D"):
        readers.read_mmlu_csv(path)


def test_mmlu_multiline_question_keeps_its_first_line_number(tmp_path: Path) -> None:
    path = write(tmp_path / "anatomy_dev.csv", 'q1,a,b,c,d,A\n"multi\nline q",a,b,c,d,B\nq3,a,b,c,d,D\n')
    rows = readers.read_mmlu_csv(path)
    assert [(r.line, r.question, r.answer) for r in rows] == [
        (1, "q1", "A"),
        (2, "multi\nline q", "B"),
        (4, "q3", "D"),
    ]


def test_empty_story_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "abc.story", "\n\n@highlight\n\nOnly a highlight\n")
    with pytest.raises(DataError, match=rf"^{path}:1: empty story"):
        readers.read_story(path)


def test_dangling_highlight_marker_names_its_line(tmp_path: Path) -> None:
    path = write(tmp_path / "abc.story", "Body.\n\n@highlight\n\nH1\n\n@highlight\n")
    with pytest.raises(DataError, match=rf"^{path}:7: '@highlight' without a summary line"):
        readers.read_story(path)


def test_freebaseqa_tab_row_with_wrong_field_count(tmp_path: Path) -> None:
    path = write(tmp_path / "FreebaseQA-eval.tab", "a\tb\tm.1\tp\tnull\tm.2\tans\tQ?\na\tb\tc\n")
    with pytest.raises(DataError, match=rf"^{path}:2: expected 8 tab-separated fields, found 3"):
        readers.read_freebaseqa_tab(path)


def test_missing_field_is_named(tmp_path: Path) -> None:
    path = write(tmp_path / "question.jsonl", '{"question_id": 1, "text": "hi"}\n')
    with pytest.raises(DataError, match=rf"^{path}:1: missing field 'category'"):
        readers.read_vicuna_questions(path)


# --------------------------------------------------------------------------- parsing


def test_freebaseqa_txt_unquotes_csv_quoted_questions() -> None:
    line = '"A film ""one of Britain\'s"" cult films, is what "" ... and I""?" | withnail and i '
    assert readers.parse_freebaseqa_txt_line(line, "f:1") == (
        'A film "one of Britain\'s" cult films, is what " ... and I"?',
        "withnail and i",
    )
    assert readers.parse_freebaseqa_txt_line("1980 Pac Man by which company | midway ", "f:2") == (
        "1980 Pac Man by which company",
        "midway",
    )


def test_story_splits_body_and_highlights(tmp_path: Path) -> None:
    path = write(tmp_path / "h1.story", "First para.\r\n\r\nSecond  para.\r\n\r\n@highlight\r\n\r\nH one\r\n")
    story = readers.read_story(path)
    assert story == readers.Story("h1", ("First para.", "Second  para."), ("H one",))
    assert curate.story_text(story) == "First para.\n\nSecond para."


def test_wikitext_crlf_becomes_one_row_per_line_with_lf(tmp_path: Path) -> None:
    path = tmp_path / "wiki.test.raw"
    path.write_bytes(b" = A = \r\n \r\n Text . \r\n")
    rows = curate.wikitext_rows(readers.read_wikitext_raw(path))
    assert [r["text"] for r in rows] == [" = A = \n", " \n", " Text . \n"]


def test_triviaqa_reads_evidence_from_folder_when_present(tmp_path: Path) -> None:
    doc = {
        "Data": [
            {
                "Question": "Which musical?",
                "QuestionId": "tc_33",
                "Answer": {"Value": "Sunset Boulevard", "Aliases": ["Sunset Blvd", "Sunset Boulevard"]},
                "EntityPages": [{"Filename": "ALW.txt", "Title": "ALW"}],
                "SearchResults": [{"Filename": "35/35_995.txt", "Title": "web", "Text": "inline text"}],
            }
        ]
    }
    path = write(tmp_path / "dev.json", json.dumps(doc))
    (tmp_path / "ev" / "wikipedia").mkdir(parents=True)
    (tmp_path / "ev" / "wikipedia" / "ALW.txt").write_text("wiki text")
    without = readers.read_triviaqa_json(path)
    with_ev = readers.read_triviaqa_json(path, evidence_dir=tmp_path / "ev")
    assert without[0].aliases == ("Sunset Blvd", "Sunset Boulevard")
    assert [e.text for e in without[0].evidence] == [None, "inline text"]
    assert [(e.source, e.text) for e in with_ev[0].evidence] == [
        ("wikipedia", "wiki text"),
        ("web", "inline text"),
    ]


# --------------------------------------------------------------------------- curation


def test_dedupe_keeps_first_spelling_and_drops_case_duplicates() -> None:
    assert curate.dedupe(["Terry Gilliam", "terry gilliam", " ", "T. Gilliam ", "terry gilliam"]) == [
        "Terry Gilliam",
        "T. Gilliam",
    ]


def test_factoid_answers_collect_every_alias_of_every_parse() -> None:
    q = readers.FreebaseQuestion(
        "q1",
        " Who? ",
        (
            readers.FreebaseParse("a", "a", "p", ("henry fonda",)),
            readers.FreebaseParse("b", "b", "p", ("Henry Fonda", "reginald rose")),
        ),
    )
    [row] = curate.factoid_rows([q])
    assert row["question"] == "Who?"
    assert row["answers"] == ["henry fonda", "reginald rose"]
    assert (row["source"], row["license"]) == ("freebaseqa", "cc-by-4.0")


def test_duplicate_story_is_kept_only_in_the_smallest_bucket() -> None:
    a = readers.Story("a", ("Same text.",), ("h",))
    b = readers.Story("b", ("Other text.",), ("h",))
    a_again = readers.Story("a", ("Same text.",), ("h",))
    renamed = readers.Story("z", ("Same  text.",), ("h",))  # same article under another name
    kept = curate.assign_buckets(
        {"mid": [a_again, b], "small": [a], "large": [renamed]}, ["small", "mid", "large"]
    )
    assert {k: [s.story_id for s in v] for k, v in kept.items()} == {
        "small": ["a"],
        "mid": ["b"],
        "large": [],
    }


def test_subsample_is_seeded_ordered_and_stratified() -> None:
    rows = [{"id": str(i), "subject": "s1" if i < 50 else "s2"} for i in range(100)]
    first = curate.subsample(rows, 10, seed=0, stratify="subject")
    assert first == curate.subsample(rows, 10, seed=0, stratify="subject")
    assert first != curate.subsample(rows, 10, seed=1, stratify="subject")
    assert [r["subject"] for r in first].count("s1") == 5
    assert [int(r["id"]) for r in first] == sorted(int(r["id"]) for r in first)
    assert curate.subsample(rows[:3], 10, seed=0) == rows[:3]


def test_mmlu_categories_cover_57_subjects_in_hendrycks_groups() -> None:
    assert len(SUBJECTS) == 57
    assert {c: len(subjects_in(c)) for c in CATEGORIES} == {
        "STEM": 18,
        "humanities": 13,
        "social sciences": 12,
        "other": 14,
    }
    assert category_of("high_school_physics") == "STEM"
    assert category_of("professional_law") == "humanities"
    assert category_of("econometrics") == "social sciences"
    assert category_of("virology") == "other"
    with pytest.raises(DataError, match="unknown MMLU subject 'astrology'"):
        category_of("astrology")


def test_stats_average_words_and_tokens_and_count_categories() -> None:
    from dataset_builder.stats import render_table, split_stats

    rows = [
        {"category": "math", "question": "two words", "reference_answer": "one"},
        {"category": "coding", "question": "three words here", "reference_answer": "a b c"},
    ]
    s = split_stats("vicuna_bench", "test", rows, count_tokens=len)
    assert (s.items, s.prompt_words, s.answer_words) == (2, 2.5, 2.0)
    assert (s.prompt_tokens, s.answer_tokens) == (12.5, 4.0)  # characters
    assert s.categories == {"coding": 1, "math": 1}
    assert (
        render_table([s]).splitlines()[2]
        == "| vicuna_bench | test | 2 | 2.5 | 2.0 | 12.5 | 4.0 | coding: 1, math: 1 |"
    )
