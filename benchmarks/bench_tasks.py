"""Task benchmarks on the embedded SmolLM2-135M (CPU): prints numbers, asserts nothing.

  python benchmarks/bench_tasks.py [--quick]

1. MMLU questions/s on 5 subjects, 5-shot, letter logits with the k-shot header as a shared
   (KV-cached) prefix vs the same prompts scored whole; predictions must be identical.
2. factoid-QA examples/s at batch 1 and batch 8.
3. Dense scores of every task on its smoke set, and on real-data subsets when shared/data exists.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from kick_tasks.mmlu import CHOICE_CONTINUATIONS, letter_from_logprobs

from dataset_builder.rows import shared_data_dir
from kick.plugins import load_model, load_plugins
from kick.runner import make_record
from kick.types import ModelSpec

SUBJECTS = ("abstract_algebra", "high_school_geography", "marketing", "world_religions", "elementary_mathematics")


def task(name: str, **params: Any) -> Any:
    return load_plugins().registry.create("task", name, **params)


def score(model: Any, t: Any, batch_size: int = 8) -> tuple[dict[str, Any], int, float]:
    samples = t.samples()
    t0 = time.perf_counter()
    preds = t.predict(model, samples, batch_size=batch_size)
    secs = time.perf_counter() - t0
    recs = [make_record("dense", t, s, p) for s, p in zip(samples, preds, strict=True)]
    return dict(t.aggregate([r for r in recs if r.error is None])), len(samples), secs


def bench_mmlu_prefix(model: Any, data: str, per_subject: int) -> None:
    subjects = SUBJECTS if data != "smoke" else ("elementary_mathematics", "high_school_geography",
                                                   "miscellaneous", "world_religions")
    t = task("mmlu", data=data, subjects="+".join(subjects), shots=5)
    samples = t.samples()
    by_subject: dict[str, list[Any]] = {}
    for s in samples:
        if len(by_subject.setdefault(s.meta["subject"], [])) < per_subject:
            by_subject[s.meta["subject"]].append(s)
    n = sum(len(v) for v in by_subject.values())
    model.choice_logprobs(["warm up"], CHOICE_CONTINUATIONS)
    t0 = time.perf_counter()
    cached = {subj: t.predict(model, ss, batch_size=8) for subj, ss in by_subject.items()}
    t_cached = time.perf_counter() - t0
    t0 = time.perf_counter()
    plain: dict[str, list[str]] = {}
    for subj, ss in by_subject.items():
        header = t.header(subj, 5)
        lps = model.choice_logprobs([header + s.prompt for s in ss], CHOICE_CONTINUATIONS, batch_size=8)
        plain[subj] = [letter_from_logprobs(lp) for lp in lps]
    t_plain = time.perf_counter() - t0
    same = all([p.output for p in cached[s]] == plain[s] for s in by_subject)
    print(f"mmlu[{data}] {len(by_subject)} subjects x {per_subject} q, 5-shot: prefix-cached {n / t_cached:.2f} q/s, "
          f"plain {n / t_plain:.2f} q/s, speed-up {t_plain / t_cached:.2f}x, identical predictions: {same}")


def bench_factoid_batch(model: Any, n: int) -> None:
    t = task("factoid-qa", limit=n)
    samples = t.samples()
    for bs in (1, 8):
        t0 = time.perf_counter()
        t.predict(model, samples, batch_size=bs)
        print(f"factoid-qa[smoke] batch {bs}: {n / (time.perf_counter() - t0):.2f} examples/s (n={n})")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller subsets")
    ap.add_argument("--skip", default="", help="comma-separated sections to skip: prefix,batch,smoke,real")
    args = ap.parse_args()
    skip = set(args.skip.split(","))
    q = args.quick
    t0 = time.perf_counter()
    model = load_model(ModelSpec("smollm2-135m"), load_plugins())
    print(f"model loaded in {time.perf_counter() - t0:.1f}s; context {model.context_length}", flush=True)
    shared = shared_data_dir()
    real = "shared" if shared is not None else None
    if "prefix" not in skip:
        bench_mmlu_prefix(model, real or "smoke", 8 if q else 16)
    if "batch" not in skip:
        bench_factoid_batch(model, 8 if q else 16)
    sys.stdout.flush()
    gen = {"max_new_tokens": 96 if q else 192}
    if "smoke" not in skip:
        for name, params in [
            ("factoid-qa", {}), ("mmlu", {}), ("icrqa-closed", {}), ("icrqa-open", {}), ("perplexity", {}),
            ("summarization", gen), ("instruction-following", gen), ("mt-bench", gen),
        ]:
            metrics, n, secs = score(model, task(name, **params))
            keep = {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items() if "/" not in k}
            print(f"dense smoke {name} n={n} ({secs:.0f}s): {keep}", flush=True)
    if real and "real" not in skip:
        for name, params in [
            ("factoid-qa", {"limit": 40 if q else 100}),
            ("mmlu", {"limit": 40 if q else 100}),
            ("icrqa-closed", {"limit": 30 if q else 60}),
            ("icrqa-open", {"limit": 30 if q else 60}),
            ("perplexity", {"max_windows": 10 if q else 40, "seqlen": 512}),
        ]:
            metrics, n, secs = score(model, task(name, data=real, **params))
            keep = {k: round(v, 4) if isinstance(v, float) else v for k, v in metrics.items() if "/" not in k}
            print(f"dense real {name} n={n} ({secs:.0f}s): {keep}", flush=True)


if __name__ == "__main__":
    main()
