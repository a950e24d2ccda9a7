"""The bad-input battery (issue 14): well over 100 wrong commands, specs, data files, model folders
and directories, each tried as a new user would, in a real `kick` process (every installed plugin
plus the tests' fake plugin). It counts the cases that end as they should: a non-zero exit, one
line on stderr, no traceback, and no directory left behind by a command that failed.

    PYTHONPATH=.:plugins:tests nice -n 10 python benchmarks/bad_inputs.py [--only SUBSTRING] [-v]

Prints one row per case and the counts; exits 1 when any case misbehaves.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.processes import child_env, kick_result  # noqa: E402

RUN = ("run", "fake-model", "--method", "fake-prune", "--task", "fake-acc")
EVAL = ("eval", "fake-model", "--task", "fake-acc")


@dataclass
class Case:
    name: str
    args: tuple[str, ...]
    out: str | None = None  # the directory the command must not leave behind when it fails
    expect: int | None = None  # a specific exit code, when it matters
    path: str | None = None  # a folder of third-party plugins for the child's sys.path


def fixtures(w: Path) -> None:
    """The files the cases point at."""
    (w / "afile").write_text("I am a file\n")
    (w / "empty.jsonl").write_text("")
    (w / "blank.jsonl").write_text("\n\n")
    (w / "garbage.jsonl").write_text("not json\n")
    (w / "fb_empty.json").write_text('{"Dataset": "FreebaseQA-eval", "Questions": []}')
    (w / "fb_broken.json").write_text('{"Dataset": "FreebaseQA-eval", "Questions": [')
    (w / "fb_noanswer.json").write_text(
        '{"Questions": [{"Question-ID": "q1", "RawQuestion": "who?", "Parses": []}]}'
    )
    (w / "mmlu_broken.json").write_text("{ not json")
    (w / "mmlu_nochoices.json").write_text(
        '{"test": [{"subject": "x", "question": "q", "answer": "A"}], "dev": []}'
    )
    (w / "mmlu_list.json").write_text("[1, 2, 3]")
    (w / "mmlu_empty.json").write_text('{"test": [], "dev": []}')
    (w / "mmlu_badanswer.json").write_text(
        '{"test": [{"subject": "x", "question": "q", "choices": ["a","b","c","d"], "answer": "Z"}], "dev": []}'
    )
    (w / "binary.jsonl").write_bytes(b"\xff\xfe\x00\x01" * 100)
    (w / "empty.txt").write_text("")
    (w / "mt_empty.jsonl").write_text("")
    (w / "refs_other_ids.jsonl").write_text('{"question_id": 9991, "choices": [{"turns": ["x"]}]}\n')
    (w / "adir").mkdir()
    from support.tiny import save_tiny_llama, tiny_llama

    tiny = save_tiny_llama(str(w / "tiny"))
    trunc = w / "tiny_trunc"
    shutil.copytree(tiny, trunc)
    st = trunc / "model.safetensors"
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    header = w / "tiny_badheader"
    shutil.copytree(tiny, header)
    (header / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header}")
    import torch

    pickled = w / "tiny_bin"  # the same model, its weights a pickle
    shutil.copytree(tiny, pickled)
    (pickled / "model.safetensors").unlink()
    torch.save(tiny_llama().module.state_dict(), pickled / "pytorch_model.bin")
    noweights = w / "tiny_noweights"
    noweights.mkdir()
    shutil.copy(Path(tiny) / "config.json", noweights / "config.json")
    badconfig = w / "tiny_badconfig"
    shutil.copytree(tiny, badconfig)
    (badconfig / "config.json").write_text("{ nope")


def toml(w: Path, name: str, text: str) -> str:
    p = w / f"{name}.toml"
    p.write_text(text)
    return str(p)


def cases(w: Path) -> list[Case]:
    n = iter(range(10_000))

    def out() -> str:
        return str(w / f"out{next(n)}")

    c: list[Case] = []

    def add(
        name: str, *args: str, leaves: bool = True, expect: int | None = None, path: str | None = None
    ) -> None:
        o = None
        if "--out" in args:
            o = args[args.index("--out") + 1]
        c.append(Case(name, tuple(args), o if leaves else None, expect, path))

    # -- command-line options
    add("limit not a number", *RUN, "--limit", "ten", "--out", out())
    add("limit zero", *RUN, "--limit", "0", "--out", out())
    add("limit negative", *RUN, "--limit", "-3", "--out", out())
    add("batch size zero", *RUN, "--batch-size", "0", "--out", out())
    add("batch size text", *RUN, "--batch-size", "big", "--out", out())
    add("seed text", *RUN, "--seed", "x", "--out", out())
    add("rel-tol text", *RUN, "--rel-tol", "five percent", "--out", out())
    add("resamples too few", *RUN, "--resamples", "5", "--out", out())
    add("verdict unknown", *RUN, "--verdict", "vibes", "--out", out())
    add("unknown option", *RUN, "--frobnicate", "--out", out())
    add("missing --out", *RUN)
    add("resume and overwrite", *RUN, "--resume", "--overwrite", "--out", out())
    add("param without =", *RUN, "--param", "sparsity", "--out", out())
    add("param unknown key", *RUN, "--param", "sparsty=0.5", "--out", out())
    add("param bad value", *RUN, "--param", "sparsity=lots", "--out", out())
    add("param out of range", "run", "fake-model", "--method", "fake-magnitude", "--param", "sparsity=1.5",
        "--task", "fake-acc", "--out", out())  # fmt: skip
    add("task-param malformed", *RUN, "--task-param", "limit=3", "--out", out())
    add("task-param for absent task", *RUN, "--task-param", "mmlu.shots=3", "--out", out())
    add("task-param unknown key", *RUN, "--task-param", "fake-acc.bogus=3", "--out", out())
    add("judge-param malformed", *RUN, "--judge", "fake-judge", "--judge-param", "x", "--out", out())
    add("unknown method", "run", "fake-model", "--method", "magnitud", "--task", "fake-acc", "--out", out())
    add("unknown task", "run", "fake-model", "--method", "fake-prune", "--task", "mmlux", "--out", out())
    add("unknown judge", *RUN, "--judge", "pairwize", "--out", out())
    add(
        "unknown plugin:name",
        "run",
        "fake-model",
        "--method",
        "nope:magnitude",
        "--task",
        "fake-acc",
        "--out",
        out(),
    )
    add("task listed twice", *RUN, "--task", "fake-acc", "--out", out())
    add("run without method", "run", "fake-model", "--task", "fake-acc", "--out", out())
    add("eval with no task", "eval", "fake-model", "--out", out())
    add("run no dense no method", "run", "fake-model", "--no-dense", "--task", "fake-acc", "--out", out())
    add("dtype unknown", "eval", str(w / "tiny"), "--task", "fake-acc", "--dtype", "float7", "--out", out())
    add("device unknown", "eval", str(w / "tiny"), "--task", "fake-acc", "--device", "tpu9", "--out", out())
    add("judge missing --judge", "judge", str(w / "adir"))
    add("report verdict unknown", "report", str(w / "adir"), "--verdict", "vibes")
    add("sweep pattern malformed", "sweep", "--model", "fake-model", "--method", "fake-magnitude", "--pattern", "2-4",
        "--task", "fake-acc", "--out", out())  # fmt: skip
    add("sweep sparsity 1", "sweep", "--model", "fake-model", "--method", "fake-magnitude", "--sparsity", "1.0",
        "--task", "fake-acc", "--out", out())  # fmt: skip
    add("sweep no tasks", "sweep", "--model", "fake-model", "--method", "fake-magnitude", "--out", out())
    add("sweep unknown method", "sweep", "--model", "fake-model", "--method", "wandaa", "--task", "fake-acc",
        "--out", out())  # fmt: skip
    add("sweep param malformed", "sweep", "--model", "fake-model", "--method", "fake-magnitude", "--param", "x=1",
        "--task", "fake-acc", "--out", out())  # fmt: skip
    add("compress unknown method", "compress", str(w / "tiny"), "--method", "nope", "--out", out())
    add(
        "compress bad param",
        "compress",
        str(w / "tiny"),
        "--method",
        "magnitude",
        "-p",
        "sparsity=2",
        "--out",
        out(),
    )

    # -- run spec files: wrong types, unknown keys, broken TOML
    run_specs = {
        "limit string": 'limit = "ten"\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "limit float": 'limit = 2.5\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "limit bool": 'limit = true\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "params number": 'params = 5\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "params list": 'params = [1]\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "task_params number": 'task_params = 5\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "task_params inner number": 'tasks = ["fake-acc"]\nmethod = "fake-prune"\n[task_params]\nfake-acc = 5\n',
        "judge_params number": 'judge = "fake-judge"\njudge_params = 5\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "batch_size string": 'batch_size = "big"\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "seed string": 'seed = "x"\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "tasks number": 'tasks = 5\nmethod = "fake-prune"\n',
        "tasks list of numbers": 'tasks = [1, 2]\nmethod = "fake-prune"\n',
        "method number": 'tasks = ["fake-acc"]\nmethod = 5\n',
        "model number": 'model = 5\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "model table unknown key": 'tasks = ["fake-acc"]\nmethod = "fake-prune"\n[model]\nname = "fake-model"\nflavour = 1\n',
        "judge number": 'judge = 5\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "dtype number": 'dtype = 5\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "trust_remote_code string": 'trust_remote_code = "yes"\ntasks = ["fake-acc"]\nmethod = "fake-prune"\n',
        "unknown key": 'tasks = ["fake-acc"]\nmethod = "fake-prune"\nsparsity = 0.5\n',
        "broken toml": 'tasks = ["fake-acc"\n',
        "binary toml": "\x00\x01\x02",
    }
    for name, text in run_specs.items():
        add(f"run spec: {name}", "run", "fake-model", "--spec", toml(w, "run-" + name.replace(" ", "_"), text),
            "--out", out())  # fmt: skip
    add("run spec: missing file", "run", "fake-model", "--spec", str(w / "nope.toml"), "--out", out())
    add("run spec: a folder", "run", "fake-model", "--spec", str(w / "adir"), "--out", out())

    # -- sweep spec files
    base = 'model = "fake-model"\nmethods = ["fake-magnitude"]\nsparsity = [0.5]\ntasks = ["fake-acc"]\n'
    sweep_specs = {
        "rel_tol string": base + 'rel_tol = "five percent"\n',
        "abs_tol string": base + 'abs_tol = "x"\n',
        "rel_tol negative": base + "rel_tol = -1\n",
        "params number": base + "params = 5\n",
        "params inner number": base + "[params]\nfake-magnitude = 5\n",
        "task_params number": base + "task_params = 5\n",
        "task_params inner number": base + "[task_params]\nfake-acc = 5\n",
        "levels number": base + "levels = 5\n",
        "seeds string": base + 'seeds = "x"\n',
        "seeds repeated": base + "seeds = [1, 1]\n",
        "sparsity string": base.replace("[0.5]", '["half"]'),
        "patterns number": base + "patterns = [5]\n",
        "bits strings": base + 'bits = ["x"]\n',
        "cells number": base + "cells = 5\n",
        "cells list of numbers": base + "cells = [5]\n",
        "models number": base.replace('model = "fake-model"', "models = 5"),
        "models list of numbers": base.replace('model = "fake-model"', "models = [5]"),
        "model and models": base + 'models = ["fake-model"]\n',
        "limit string": base + 'limit = "ten"\n',
        "batch_size zero": base + "batch_size = 0\n",
        "verdict number": base + "verdict = 5\n",
        "resamples string": base + 'resamples = "x"\n',
        "copy unknown": base + 'copy = "teleport"\n',
        "judge number": base + "judge = 5\n",
        "judge_params number": base + 'judge = "fake-judge"\njudge_params = 5\n',
        "seed string": base + 'seed = "x"\n',
        "methods number": base.replace('methods = ["fake-magnitude"]', "methods = 5"),
        "tasks number": base.replace('tasks = ["fake-acc"]', "tasks = 5"),
        "unknown key": base + "colour = 1\n",
        "broken toml": base + "sparsity = [\n",
    }
    for name, text in sweep_specs.items():
        add(
            f"sweep spec: {name}",
            "sweep",
            "--spec",
            toml(w, "sweep-" + name.replace(" ", "_"), text),
            "--out",
            out(),
        )

    # -- directories
    add("run --out is a file", *RUN, "--out", str(w / "afile"), leaves=False)
    add("eval --out is a file", *EVAL, "--out", str(w / "afile"), leaves=False)
    add("sweep --out is a file", "sweep", "--model", "fake-model", "--method", "fake-magnitude", "--sparsity", "0.5",
        "--task", "fake-acc", "--out", str(w / "afile"), leaves=False)  # fmt: skip
    add("run --out under a file", *RUN, "--out", str(w / "afile" / "sub"), leaves=False)
    add("run --out not writable", *RUN, "--out", "/proc/kick-run", leaves=False)
    add("report --out is a file", "report", str(w / "done"), "--out", str(w / "afile"), leaves=False)
    add("report of a non-run folder", "report", str(w / "adir"), leaves=False)
    add("report of a missing folder", "report", str(w / "missing"), leaves=False)
    add("report of a file", "report", str(w / "afile"), leaves=False)
    add("judge a non-run folder", "judge", str(w / "adir"), "--judge", "fake-judge", leaves=False)
    add("judge a file", "judge", str(w / "afile"), "--judge", "fake-judge", leaves=False)
    add("judge a run with no judged task", "judge", str(w / "done"), "--judge", "fake-judge", leaves=False)
    add("compress --out is a file", "compress", str(w / "tiny"), "--method", "magnitude", "--out", str(w / "afile"),
        leaves=False)  # fmt: skip
    add("data build --out is a file", "data", "build", "--out", str(w / "afile"), leaves=False)
    add("run into an existing run", *RUN, "--out", str(w / "done"), leaves=False)
    add("resume with another spec", "run", "fake-model", "--method", "fake-magnitude", "--task", "fake-acc",
        "--resume", "--out", str(w / "done"), leaves=False)  # fmt: skip
    add("overwrite a non-run folder", *RUN, "--overwrite", "--out", str(w / "notrun"), leaves=False)

    # -- data files
    add("factoid: empty JSON questions", "eval", "fake-model", "--task", "factoid-qa", "--task-param",
        f"factoid-qa.data={w / 'fb_empty.json'}", "--out", out())  # fmt: skip
    add("factoid: truncated JSON", "eval", "fake-model", "--task", "factoid-qa", "--task-param",
        f"factoid-qa.data={w / 'fb_broken.json'}", "--out", out())  # fmt: skip
    add("factoid: question without parses", "eval", "fake-model", "--task", "factoid-qa", "--task-param",
        f"factoid-qa.data={w / 'fb_noanswer.json'}", "--out", out())  # fmt: skip
    add("factoid: binary file", "eval", "fake-model", "--task", "factoid-qa", "--task-param",
        f"factoid-qa.data={w / 'binary.jsonl'}", "--out", out())  # fmt: skip
    add("factoid: missing file", "eval", "fake-model", "--task", "factoid-qa", "--task-param",
        f"factoid-qa.data={w / 'nope.json'}", "--out", out())  # fmt: skip
    for f in ("mmlu_broken", "mmlu_nochoices", "mmlu_list", "mmlu_empty", "mmlu_badanswer"):
        add(f"mmlu: {f}", "eval", "fake-model", "--task", "mmlu", "--task-param", f"mmlu.data={w / (f + '.json')}",
            "--out", out())  # fmt: skip
    add("mmlu: empty folder", "eval", "fake-model", "--task", "mmlu", "--task-param", f"mmlu.data={w / 'adir'}",
        "--out", out())  # fmt: skip
    for f in ("empty.jsonl", "blank.jsonl", "garbage.jsonl", "binary.jsonl"):
        add(f"icrqa: {f}", "eval", "fake-model", "--task", "icrqa-closed", "--task-param",
            f"icrqa-closed.data={w / f}", "--out", out())  # fmt: skip
        add(f"summarization: {f}", "eval", "fake-model", "--task", "summarization", "--task-param",
            f"summarization.data={w / f}", "--out", out())  # fmt: skip
    add("perplexity: empty text", "eval", "fake-model", "--task", "perplexity", "--task-param",
        f"perplexity.data={w / 'empty.txt'}", "--out", out())  # fmt: skip
    add("mt-bench: empty questions", "eval", "fake-model", "--task", "mt-bench", "--task-param",
        f"mt-bench.data={w / 'mt_empty.jsonl'}", "--out", out())  # fmt: skip
    add("mt-bench: references of other ids", "run", "fake-model", "--method", "fake-prune", "--task", "mt-bench",
        "--judge", "pairwise", "--judge-param", "base_url=http://127.0.0.1:9/v1",
        "--judge-param", f"references={w / 'refs_other_ids.jsonl'}", "--out", out())  # fmt: skip

    # -- model folders
    tiny = str(w / "tiny")
    add("model: truncated safetensors", "eval", str(w / "tiny_trunc"), "--task", "perplexity", "--out", out())
    add(
        "model: bad safetensors header",
        "eval",
        str(w / "tiny_badheader"),
        "--task",
        "perplexity",
        "--out",
        out(),
    )
    add(
        "model: pickle .bin without opt-in",
        "eval",
        str(w / "tiny_bin"),
        "--task",
        "perplexity",
        "--out",
        out(),
    )
    add("model: config only", "eval", str(w / "tiny_noweights"), "--task", "perplexity", "--out", out())
    add(
        "model: broken config.json", "eval", str(w / "tiny_badconfig"), "--task", "perplexity", "--out", out()
    )
    add("model: missing folder", "eval", str(w / "no-such-model"), "--task", "perplexity", "--out", out())
    add("model: a file", "eval", str(w / "afile"), "--task", "perplexity", "--out", out())
    add("model: N:M 3:7 vs width 64", "run", tiny, "--method", "magnitude", "-p", "pattern=3:7", "--task",
        "perplexity", "--out", out())  # fmt: skip
    add("model: N:M 2:3 vs width 64", "run", tiny, "--method", "wanda", "-p", "pattern=2:3", "--task",
        "perplexity", "--out", out())  # fmt: skip
    add("model: group_size 100 vs width 64", "run", tiny, "--method", "rtn", "-p", "group_size=100", "--task",
        "perplexity", "--out", out())  # fmt: skip
    add("model: gptq group_size 48", "run", tiny, "--method", "gptq", "-p", "group_size=48", "--task",
        "perplexity", "--out", out())  # fmt: skip
    add("sweep: N:M 3:7 vs width 64", "sweep", "--model", tiny, "--method", "magnitude", "--pattern", "3:7",
        "--task", "perplexity", "--out", out())  # fmt: skip

    # -- plugins that misbehave (installed on the child's path)
    site = str(w / "site")
    add("plugin: compressor raises", "run", "fake-model", "--method", "raiser-boom", "--task", "fake-acc",
        "--no-dense", "--out", out(), path=site, expect=1)  # fmt: skip
    add("plugin: compressor exits", "run", "fake-model", "--method", "exiter-compress", "--task", "fake-acc",
        "--no-dense", "--out", out(), path=site, expect=1)  # fmt: skip
    add("plugin: task raises reading samples", "eval", "fake-model", "--task", "raiser-task", "--out", out(),
        path=site)  # fmt: skip
    add("plugin: unknown qualified name", "run", "fake-model", "--method", "raiser:magnitude", "--task", "fake-acc",
        "--out", out(), path=site)  # fmt: skip
    add("perplexity: empty text on a real model", "eval", tiny, "--task", "perplexity", "--task-param",
        f"perplexity.data={w / 'empty.txt'}", "--out", out())  # fmt: skip

    # -- a full disk (a 64 KiB tmpfs, where this process may mount one)
    if (w / "full").is_mount():
        add("disk full: run", *RUN, "--out", str(w / "full" / "run"), leaves=False)
        add("disk full: sweep", "sweep", "--model", "fake-model", "--method", "fake-magnitude", "--sparsity", "0.5",
            "--task", "fake-acc", "--out", str(w / "full" / "sweep"), leaves=False)  # fmt: skip
        add("disk full: report", "report", str(w / "done"), "--out", str(w / "full" / "report"), leaves=False)
    return c


RAISER = """
import sys
from kick.hookspecs import hookimpl

class Boom:
    name = "raiser-boom"
    def compress(self, model):
        raise RuntimeError("boom")

class Exit:
    name = "exiter-compress"
    def compress(self, model):
        sys.exit(3)

class BadTask:
    name, judge_kind = "raiser-task", None
    def settings(self): return {}
    def samples(self): raise ValueError("cannot parse row 7")
    def predict(self, model, samples, *, batch_size): return []
    def score(self, sample, prediction): return {}
    def aggregate(self, records): return {}

@hookimpl
def register_compressors(register):
    register("raiser-boom", lambda **p: Boom())
    register("exiter-compress", lambda **p: Exit())

@hookimpl
def register_tasks(register):
    register("raiser-task", lambda **p: BadTask())
"""


def plugins_and_disk(w: Path) -> None:
    from support.distributions import make_distribution

    make_distribution(
        w / "site", "kick-raiser", "0.3", {"raiser": "raiser_plugin"}, {"raiser_plugin": RAISER}
    )
    full = w / "full"
    full.mkdir()
    import subprocess

    try:
        ok = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], capture_output=True
        )
    except OSError:
        return
    if ok.returncode == 0:
        (full / "ballast").write_bytes(b"x" * 60 * 1024)


def judge(res: object, case: Case) -> tuple[bool, str]:
    stderr, stdout, code = res.stderr, res.stdout, res.returncode  # type: ignore[attr-defined]
    lines = [x for x in stderr.splitlines() if x.strip() and not x.startswith(("Loading", "warning:"))]
    why = []
    if code == 0:
        why.append("exit 0")
    if case.expect is not None and code != case.expect:
        why.append(f"exit {code}, expected {case.expect}")
    if "Traceback" in stderr + stdout:
        why.append("traceback")
    if len(lines) != 1:
        why.append(f"{len(lines)} lines on stderr")
    if case.out and Path(case.out).exists():
        why.append("left its directory behind")
    return not why, ", ".join(why) or (lines[0][:150] if lines else "")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    w = Path(tempfile.mkdtemp(prefix="kick-bad-"))
    try:
        fixtures(w)
        plugins_and_disk(w)
        (w / "notrun").mkdir()
        (w / "notrun" / "keep.txt").write_text("mine")
        done = kick_result(*RUN, "--limit", "2", "--out", str(w / "done"), builtins=True)
        assert done.returncode == 0, done.stderr
        todo = [c for c in cases(w) if args.only in c.name]
        good = 0
        t0 = time.perf_counter()
        bad: list[tuple[str, str]] = []
        for case in todo:
            env = {"PYTHONPATH": child_env(path=[Path(case.path)])["PYTHONPATH"]} if case.path else None
            res = kick_result(*case.args, builtins=True, timeout=300, env=env)
            ok, what = judge(res, case)
            good += ok
            print(f"{'ok  ' if ok else 'FAIL'} {res.returncode:>3}  {case.name:40s} {what}", flush=True)
            if not ok:
                bad.append((case.name, what))
                if args.verbose:
                    print(res.stderr[-2000:])
        print(f"\n{good} of {len(todo)} bad inputs gave one clear line and a non-zero exit, no traceback, "
              f"nothing left behind ({time.perf_counter() - t0:.0f}s)")  # fmt: skip
        print(json.dumps({"cases": len(todo), "clear": good, "failing": [n for n, _ in bad]}))
        return 0 if good == len(todo) else 1
    finally:
        if (w / "full").is_mount():
            import subprocess

            subprocess.run(["umount", "-l", str(w / "full")], capture_output=True)
        shutil.rmtree(w, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
