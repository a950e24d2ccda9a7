"""Judge throughput and parse rates against a real llm-katan server (SmolLM2-135M on CPU).

    python benchmarks/bench_judge.py [--items 8] [--max-tokens 32] [--concurrency 1 4] [--judge single]

Starts llm-katan on 127.0.0.1 (a free port), judges the same items at each concurrency with
the `pairwise` judge (both orders; or `single` grading of answer and reference; parse retry
on, cache off so every request is real), and
prints judged items per second and the fraction of replies parsed on the first try, on the
retry, and not at all. Items are Vicuna-bench questions with GPT-3.5 and Vicuna-7B answers
read from ../shared/data when present (answers cut to --answer-chars), else synthetic ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test helpers, importable as `support`

from kick_judges.judges import make_pairwise, make_single  # noqa: E402
from support.katan import katan_server  # noqa: E402

from kick.types import JudgeItem  # noqa: E402

DATA = ROOT.parent.parent / "shared" / "data" / "vicuna_bench_llm_kick"


def load_items(n: int, answer_chars: int) -> list[JudgeItem]:
    questions = DATA / "question.jsonl"
    refs = DATA / "answer_gpt-3.5-turbo.jsonl"
    answers = DATA / "llm_kick_outputs_vicuna7b_dense" / "wanda_answer_0.0_unstructured.jsonl"
    if not (questions.is_file() and refs.is_file() and answers.is_file()):
        return [
            JudgeItem(
                f"s{i}", "instruction", (f"Name {i + 2} fruits.",), ("Apple, pear.",), ("Apple, pear, plum.",)
            )
            for i in range(n)
        ]
    q = [json.loads(x) for x in questions.read_text().splitlines()]
    r = {d["question_id"]: d["text"] for d in map(json.loads, refs.read_text().splitlines())}
    a = {d["question_id"]: d["text"] for d in map(json.loads, answers.read_text().splitlines())}
    general = [d for d in q if d["category"] not in ("math", "coding")][:n]
    return [
        JudgeItem(
            str(d["question_id"]), "instruction", (d["text"],),
            (a[d["question_id"]][:answer_chars],), (r[d["question_id"]][:answer_chars],), d["category"],
        )
        for d in general
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--answer-chars", type=int, default=400)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--judge", choices=["pairwise", "single"], default="pairwise")
    args = ap.parse_args()
    items = load_items(args.items, args.answer_chars)
    results = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        katan_server(Path(tmp), max_concurrent=max(args.concurrency)) as srv,
    ):
        warm = make_pairwise(base_url=srv.url, model="judge-model", max_tokens=4, cache=False, swap=False)
        warm.judge(items[:1])  # first request pays for lazy initialisation; not measured
        for conc in args.concurrency:
            make = make_pairwise if args.judge == "pairwise" else make_single
            judge = make(
                base_url=srv.url,
                model="judge-model",
                max_tokens=args.max_tokens,
                cache=False,
                concurrency=conc,
            )
            t0 = time.perf_counter()
            verdicts = judge.judge(items)
            seconds = time.perf_counter() - t0
            st = judge.info()["stats"]
            replies = st["parsed_first_try"] + st["parsed_on_retry"] + st["parse_failed"]
            row = {
                "judge": args.judge,
                "concurrency": conc,
                "items": len(items),
                "seconds": round(seconds, 2),
                "items_per_s": round(len(items) / seconds, 3),
                "requests": st["requests"],
                "requests_per_s": round(st["requests"] / seconds, 3),
                "judged": sum(v.error is None for v in verdicts),
                "failed": sum(v.error is not None for v in verdicts),
                "inconsistent": sum(int(v.scores.get("inconsistent", 0)) for v in verdicts),
                "parsed_first_try": round(st["parsed_first_try"] / max(1, replies), 3),
                "parsed_on_retry": round(st["parsed_on_retry"] / max(1, replies), 3),
                "parse_failed": round(st["parse_failed"] / max(1, replies), 3),
                "request_failed": st["request_failed"],
                "prompt_tokens": st["prompt_tokens"],
                "completion_tokens": st["completion_tokens"],
            }
            results.append(row)
            print(
                f"concurrency={conc}: {row['items_per_s']} items/s ({row['requests']} requests in {row['seconds']}s); "
                f"replies parsed first try {row['parsed_first_try']:.0%}, on retry {row['parsed_on_retry']:.0%}, "
                f"failed {row['parse_failed']:.0%}; items judged {row['judged']}/{len(items)}",
                flush=True,
            )
            sample = next((v for v in verdicts if v.raw), None)
            if sample is not None:
                print(f"  e.g. raw reply: {sample.raw[0][:100]!r}", flush=True)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
