"""kick against lm-evaluation-harness on MMLU, side by side: prints numbers, asserts nothing.

    python benchmarks/bench_peers.py [--peer-python /work/venv-mmlu/bin/python] [--batch-sizes 8 1]

Both sides score the same local questions (the first `--per-subject` test rows of each subject
and its 5 dev rows, copied from the shared MMLU CSVs into a temporary folder), the same model
folder (default: kick's embedded SmolLM2 folder, dequantized float32), the same shots and batch
sizes, on `--threads` threads, interleaved kick / lm-eval / kick / lm-eval ... Each run is its own
process: CPU seconds (user + system) and peak RSS come from the operating system (`wait4`), so
imports and model loading count as they do for a user. Per question: predictions equal, and the
largest |difference| of the four choice log-probabilities.

kick runs through `kick.runner.run` (task mmlu, protocol kick, data = the temporary folder).
lm-eval runs only when `--peer-python` can import `lm_eval` (nothing is installed here): put it in
its own virtualenv, e.g.
    python -m venv /work/venv-mmlu && /work/venv-mmlu/bin/pip install torch==2.13.0 "lm-eval[hf]"
It runs as lm-eval's own MMLU task would (the template of `tasks/mmlu/default`, first-n dev shots,
`question.strip()`), on a task YAML written here that reads the same rows from JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SUBJECTS = ("abstract_algebra", "high_school_geography", "marketing", "world_religions", "elementary_mathematics")
LETTERS = "ABCD"
HERE = Path(__file__).resolve()


# ---- data ----------------------------------------------------------------------------------------


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def write_subset(src: Path, dest: Path, subjects: list[str], per_subject: int) -> dict[str, Any]:
    """The first `per_subject` test rows and all dev rows of each subject, as raw CSV (kick) and as
    cais/mmlu-shaped JSON lines (lm-eval)."""
    qids = []
    for split, n in (("test", per_subject), ("dev", None)):
        (dest / split).mkdir(parents=True, exist_ok=True)
        for s in subjects:
            rows = read_csv(src / split / f"{s}_{split}.csv")[:n]
            with (dest / split / f"{s}_{split}.csv").open("w", newline="", encoding="utf-8") as f:
                csv.writer(f).writerows(rows)
            with (dest / f"{s}_{split}.jsonl").open("w", encoding="utf-8") as f:
                for r in rows:
                    doc = {"question": r[0], "subject": s, "choices": r[1:5], "answer": LETTERS.index(r[5].strip())}
                    f.write(json.dumps(doc) + "\n")
            if split == "test":
                qids += [f"{s}-{i}" for i in range(len(rows))]
    return {"questions": qids}


LMEVAL_YAML = """task: bench_{subject}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {root}/{subject}_test.jsonl
    dev: {root}/{subject}_dev.jsonl
test_split: test
fewshot_split: dev
fewshot_config:
  sampler: first_n
output_type: multiple_choice
description: "The following are multiple choice questions (with answers) about {about}.\\n\\n"
doc_to_text: "{{{{question.strip()}}}}\\nA. {{{{choices[0]}}}}\\nB. {{{{choices[1]}}}}\\nC. {{{{choices[2]}}}}\\nD. {{{{choices[3]}}}}\\nAnswer:"
doc_to_choice: ["A", "B", "C", "D"]
doc_to_target: answer
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""


# ---- workers (each runs in its own process) ------------------------------------------------------


def worker_kick(a: argparse.Namespace) -> dict[str, Any]:
    from kick.runner import run
    from kick.types import ComponentSpec, ModelSpec, RunSpec

    params = {"data": a.data, "subjects": "+".join(a.subjects), "shots": a.shots}  # protocol: kick (default)
    spec = RunSpec(model=ModelSpec(name=a.model), tasks=(ComponentSpec("mmlu", params),), batch_size=a.batch_size)
    out = Path(tempfile.mkdtemp(prefix="bench-kick-"))
    t0 = time.process_time()
    run(spec, out / "run", footprint=False)  # lm-eval measures no generation speed or size
    secs = time.process_time() - t0
    got = {}
    for line in (out / "run" / "records.jsonl").read_text().splitlines():
        rec = json.loads(line)
        subject, _, i = rec["sample_id"].rsplit("-", 2)
        extra = rec.get("extra") or rec.get("prediction", {}).get("extra", {})
        got[f"{subject}-{i}"] = {"pred": rec["output"], "logprobs": extra["logprobs"]}
    return {"answers": got, "run_cpu_s": secs}


def worker_lmeval(a: argparse.Namespace) -> dict[str, Any]:
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tasks_dir = Path(tempfile.mkdtemp(prefix="bench-lmeval-tasks-"))
    for s in a.subjects:
        (tasks_dir / f"bench_{s}.yaml").write_text(
            LMEVAL_YAML.format(subject=s, root=a.data, about=s.replace("_", " "))
        )
    t0 = time.process_time()
    res = simple_evaluate(
        model="hf",
        model_args=f"pretrained={a.model},dtype=float32,device=cpu",
        tasks=[f"bench_{s}" for s in a.subjects],
        num_fewshot=a.shots,
        batch_size=a.batch_size,
        log_samples=True,
        task_manager=TaskManager(include_path=str(tasks_dir)),
    )
    secs = time.process_time() - t0
    got = {}
    for s in a.subjects:
        for sample in res["samples"][f"bench_{s}"]:
            lps = [float(r[0]) for r in sample["filtered_resps"]]
            got[f"{s}-{sample['doc_id']}"] = {"pred": LETTERS[lps.index(max(lps))], "logprobs": lps}
    return {"answers": got, "run_cpu_s": secs}


# ---- driver --------------------------------------------------------------------------------------


def spawn(python: str, who: str, a: argparse.Namespace, batch_size: int) -> dict[str, Any]:
    result = Path(tempfile.mkstemp(prefix=f"bench-{who}-", suffix=".json")[1])
    cmd = [python, str(HERE), "--worker", who, "--result", str(result), "--data", a.data_dir, "--model",
           a.model, "--shots", str(a.shots), "--batch-size", str(batch_size), "--subjects", *a.subjects]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(a.threads), "MKL_NUM_THREADS": str(a.threads),
           "TOKENIZERS_PARALLELISM": "false", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}  # fmt: skip
    if a.wait_policy == "passive":
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    load = os.getloadavg()
    with tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)  # this process's own CPU time and peak RSS
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{who} failed (exit {proc.returncode}):\n{err.read()[-3000:]}")
    out = json.loads(result.read_text())
    result.unlink()
    out.update(wall_s=wall, load=load, cpu_s=usage.ru_utime + usage.ru_stime, rss_kib=usage.ru_maxrss)
    return out


def agreement(a: dict[str, Any], b: dict[str, Any]) -> tuple[int, int, float]:
    keys = sorted(set(a) & set(b))
    same = sum(a[k]["pred"] == b[k]["pred"] for k in keys)
    diff = max((abs(x - y) for k in keys for x, y in zip(a[k]["logprobs"], b[k]["logprobs"], strict=True)), default=0.0)
    return same, len(keys), diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--worker", choices=("kick", "lmeval"), help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--batch-size", type=int, default=8, help=argparse.SUPPRESS)
    ap.add_argument("--mmlu", default=None, help="MMLU folder with test/ and dev/ (default: shared data)")
    ap.add_argument("--model", default=None, help="model folder (default: kick's embedded SmolLM2 folder)")
    ap.add_argument("--subjects", nargs="+", default=list(SUBJECTS))
    ap.add_argument("--per-subject", type=int, default=20)
    ap.add_argument("--shots", type=int, default=5)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[8, 1])
    ap.add_argument("--repeats", type=int, default=2, help="interleaved runs per side and batch size")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--wait-policy", choices=("default", "passive"), default="default",
                    help="passive: OMP_WAIT_POLICY=PASSIVE on both sides (idle OpenMP threads sleep instead of "
                    "spinning, which on a loaded machine otherwise bills waiting as CPU time)")  # fmt: skip
    ap.add_argument("--peer-python", default=sys.executable, help="a Python that can import lm_eval")
    ap.add_argument("--no-peer", action="store_true", help="run kick only")
    ap.add_argument("--peer-batch-sizes", type=int, nargs="+", default=None,
                    help="batch sizes lm-eval runs at (default: --batch-sizes); agreement then uses the "
                    "peer answers of any batch size (lm-eval agrees with itself across them to ~1e-5)")
    ap.add_argument("--save", default=None, help="write every run's numbers and answers to this JSON file")
    a = ap.parse_args()
    if a.worker:
        import torch

        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "2")))
        out = worker_kick(a) if a.worker == "kick" else worker_lmeval(a)
        Path(a.result).write_text(json.dumps(out))
        return

    if a.model is None:
        from kick_models.embedded import converted_folder

        a.model = str(converted_folder()[0])
    if a.mmlu is None:
        from dataset_builder.rows import shared_data_dir

        root = shared_data_dir()
        if root is None:
            raise SystemExit("no shared data folder: pass --mmlu")
        a.mmlu = str(root / "mmlu")
    a.data_dir = tempfile.mkdtemp(prefix="bench-peers-mmlu-")
    n = len(write_subset(Path(a.mmlu), Path(a.data_dir), a.subjects, a.per_subject)["questions"])
    peer = not a.no_peer and subprocess.run([a.peer_python, "-c", "import lm_eval"], capture_output=True).returncode == 0
    if not a.no_peer and not peer:
        print(f"lm_eval is not importable by {a.peer_python}: kick only", file=sys.stderr)
    sides = ["kick", "lmeval"] if peer else ["kick"]
    print(f"MMLU {len(a.subjects)} subjects x {a.per_subject} = {n} questions, {a.shots}-shot, "
          f"model {a.model}, {a.threads} threads (OpenMP wait policy {a.wait_policy}), {a.repeats} interleaved repeats")  # fmt: skip
    print(f"{'side':7} {'batch':>5} {'q/s':>6} {'CPU s':>7} {'wall s':>7} {'RSS GiB':>8} {'load 1/5/15':>15}")
    answers: dict[tuple[str, int], dict[str, Any]] = {}
    cpu: dict[tuple[str, int], list[float]] = {}
    peer_sizes = a.peer_batch_sizes or a.batch_sizes
    runs: list[dict[str, Any]] = []
    for bs in a.batch_sizes:
        for _ in range(a.repeats):
            for side in sides:
                if side == "lmeval" and bs not in peer_sizes:
                    continue
                out = spawn(sys.executable if side == "kick" else a.peer_python, side, a, bs)
                secs, rss_kib = out["cpu_s"], out["rss_kib"]
                cpu.setdefault((side, bs), []).append(secs)
                answers[(side, bs)] = out["answers"]
                runs.append({"side": side, "batch": bs, **{k: v for k, v in out.items() if k != "answers"}})
                load = "/".join(f"{x:.1f}" for x in out["load"])
                print(f"{side:7} {bs:>5} {n / out['wall_s']:>6.2f} {secs:>7.1f} {out['wall_s']:>7.1f} "
                      f"{rss_kib / 2**20:>8.2f} {load:>15}", flush=True)  # fmt: skip
    for bs in a.batch_sizes if peer else []:
        pb = bs if bs in peer_sizes else peer_sizes[0]
        same, m, diff = agreement(answers[("kick", bs)], answers[("lmeval", pb)])
        ratio = min(cpu[("lmeval", pb)]) / min(cpu[("kick", bs)])
        print(f"kick batch {bs} vs lm-eval batch {pb}: predictions equal {same}/{m}, max |log-prob diff| "
              f"{diff:.2e}, lm-eval/kick CPU (best of each) {ratio:.2f}x")  # fmt: skip
    if a.save:
        saved = {"args": {k: v for k, v in vars(a).items()}, "runs": runs,
                 "answers": {f"{side}@{bs}": v for (side, bs), v in answers.items()}}  # fmt: skip
        Path(a.save).write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
