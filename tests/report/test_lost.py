"""Knowledge lost, per item: exactly the items dense got right and compressed got wrong."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kick.report.files import write_report
from kick.report.lost import SHOWN, knowledge_lost, shorten
from kick.report.model import collect


def rec(
    variant: str, task: str, sid: str, scores: dict[str, float], out: str = "", error: str | None = None
) -> dict[str, Any]:
    return {
        "variant": variant, "task": task, "sample_id": sid, "prompt": f"Q: question {sid}?\nA:",
        "output": out, "reference": [f"ref {sid}"], "scores": scores, "error": error,
    }  # fmt: skip


def task_entry(
    primary: str, lower: list[str], dense: dict[str, Any], comp: dict[str, Any] | None
) -> dict[str, Any]:
    metrics = {"dense": dense} | ({"compressed": comp} if comp else {})
    return {"metrics": metrics, "primary_metric": primary, "lower_is_better": lower}


def write(d: Path, summary: dict[str, Any], records: list[dict[str, Any]], torn: bool = False) -> None:
    d.mkdir(parents=True)
    (d / "summary.json").write_text(json.dumps(summary))
    text = "".join(json.dumps(r) + "\n" for r in records)
    (d / "records.jsonl").write_text(text + ('{"variant": "compr' if torn else ""))


def sweep(root: Path) -> None:
    """A dense cell and one compressed cell (dense_run ../dense) on three tasks: qa (0/1 acc),
    wrong (0/1, lower is better: 0 is right), f1 (not 0/1: no list)."""
    d_qa = [1, 1, 1, 0, 1, 0, 1, 1]
    c_qa = [1, 0, 1, 1, 0, 0, 1, 0]  # lost: q1, q4, q7 (q6 has an error on the compressed side)
    dense_recs = [rec("dense", "qa", f"q{i}", {"acc": float(v)}, f"dense {i}") for i, v in enumerate(d_qa)]
    comp_recs = [
        rec("compressed", "qa", f"q{i}", {"acc": float(v)}, f"comp {i}", "boom" if i == 6 else None)
        for i, v in enumerate(c_qa)
    ]
    dense_recs += [rec("dense", "wrong", f"w{i}", {"wrong": float(v)}) for i, v in enumerate([0, 0, 1])]
    comp_recs += [rec("compressed", "wrong", f"w{i}", {"wrong": float(v)}) for i, v in enumerate([1, 0, 0])]
    dense_recs += [rec("dense", "f1", f"f{i}", {"f1": 1.0}) for i in range(2)]
    comp_recs += [rec("compressed", "f1", f"f{i}", {"f1": v}) for i, v in enumerate([0.0, 0.5])]
    tasks_d = {
        "qa": task_entry("acc", [], {"acc": 0.75}, None),
        "wrong": task_entry("wrong", ["wrong"], {"wrong": 1 / 3}, None),
        "f1": task_entry("f1", [], {"f1": 1.0}, None),
    }
    model = {"name": "m"}
    write(root / "dense", {"spec": {"model": model, "compression": None}, "tasks": tasks_d}, dense_recs)
    tasks_c = {
        "qa": task_entry("acc", [], {"acc": 0.75}, {"acc": 0.5}),
        "wrong": task_entry("wrong", ["wrong"], {"wrong": 1 / 3}, {"wrong": 1 / 3}),
        "f1": task_entry("f1", [], {"f1": 1.0}, {"f1": 0.25}),
    }
    spec = {"model": model, "compression": {"name": "wanda", "params": {"sparsity": 0.5}}}
    write(root / "wanda", {"spec": spec, "tasks": tasks_c, "dense_run": "../dense"}, comp_recs, torn=True)


def test_the_lost_list_holds_exactly_the_items_lost(tmp_path: Path) -> None:
    sweep(tmp_path / "runs")
    lost = {c.task: c for c in knowledge_lost(collect(tmp_path / "runs").results)}
    assert set(lost) == {"qa", "wrong"}  # f1 is not 0/1
    qa = lost["qa"]
    assert [i.id for i in qa.items] == ["q1", "q4", "q7"] and qa.paired == 7 and qa.label == "wanda @ 50%"
    first = qa.items[0]
    assert (first.question, first.dense_answer, first.compressed_answer, first.reference) == (
        "Q: question q1? A:", "dense 1", "comp 1", "ref q1",
    )  # fmt: skip
    assert [i.id for i in lost["wrong"].items] == ["w0"]  # lower is better: right is 0

    rep = write_report(collect(tmp_path / "runs"), tmp_path / "rep")
    assert len(rep.lost) == 2
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "### Knowledge lost: qa (`acc`: dense right, compressed wrong)" in md
    assert "**wanda @ 50%**: 3 of 7 items lost" in md
    assert "| q4 | Q: question q4? A: | dense 4 | comp 4 | ref q4 |" in md
    assert "Knowledge lost: f1" not in md
    page = (tmp_path / "rep" / "report.html").read_text()
    assert "<summary>wanda @ 50%: 3 of 7 items lost</summary>" in page and "<td>comp 7</td>" in page
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    by_task = {c["task"]: c for c in data["knowledge_lost"]}
    assert [i["id"] for i in by_task["qa"]["items"]] == ["q1", "q4", "q7"] and by_task["qa"]["lost"] == 3


def test_a_kick_run_reads_both_variants_from_its_own_records_and_long_lists_are_cut(tmp_path: Path) -> None:
    n = SHOWN + 5
    recs = [rec("dense", "qa", f"q{i:02d}", {"acc": 1.0}, "yes") for i in range(n)]
    recs += [rec("compressed", "qa", f"q{i:02d}", {"acc": 0.0}, "no") for i in range(n)]
    spec = {"model": {"name": "m"}, "compression": {"name": "magnitude", "params": {"sparsity": 0.7}}}
    entry = task_entry("acc", [], {"acc": 1.0}, {"acc": 0.0})
    write(tmp_path / "run", {"spec": spec, "tasks": {"qa": entry}}, recs)
    rep = write_report(collect(tmp_path / "run"), tmp_path / "rep")
    (cell,) = rep.lost
    assert len(cell.items) == n and cell.paired == n
    md = (tmp_path / "rep" / "report.md").read_text()
    assert f"**magnitude @ 70%**: {n} of {n} items lost, the first {SHOWN}" in md
    assert "| q19 |" in md and "| q20 |" not in md
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert len(data["knowledge_lost"][0]["items"]) == n


def test_prompts_are_shortened_to_their_head_and_tail() -> None:
    long = "header " * 50 + "\n\nWhat is the capital of France?"
    s = shorten(long, 80)
    assert len(s) <= 80 and s.startswith("header header") and s.endswith("What is the capital of France?")
    assert shorten("a\n  b") == "a b"
