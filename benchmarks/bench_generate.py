"""kick's generation against transformers' own `generate`, side by side: prints numbers, asserts nothing.

    python benchmarks/bench_generate.py [--threads 2] [--n 96] [--repeats 3] [--dtypes float32 bfloat16]

Data: the first `--n` questions of kick's factoid-qa task with `data=shared` (the real FreebaseQA
eval file of the shared data folder, in the order kick reads it), with the prompts kick's task
builds, its `max_new_tokens` (24) and its stop rule (EOS, or any token whose text holds a newline;
the answer is the text before the first newline, stripped).

Model: the embedded default SmolLM2-135M-Instruct, loaded as kick loads it (`load_smollm2`), in
each of `--dtypes`. Side B loads the same safetensors folder with plain `AutoModelForCausalLM`.

- A: kick's hf backend through the task's own `predict` (continuous batching, shared-prefix cache,
  blocked vocabulary projection) at batch 8, and at batch 1 for reference;
- B: `model.generate` at batch 8: prompts tokenized as kick does, batches of 8 formed in kick's
  order (longest first), left padding, greedy, the same `max_new_tokens`, eos ids, and a
  `StoppingCriteria` that stops a row at its first newline token; decoded and cut identically.

Runs are interleaved A8 / B8, `--repeats` times, then A1 `--batch1-runs` times. Per run: examples/s, wall s, CPU s (process
time), decode steps, ms per decode step (inside the model's forward, and wall: everything but
prefill divided by the steps), tokens generated (up to and including each row's stop token), and
row-steps computed (B keeps computing finished rows until its batch ends). Then: outputs equal
between A and B, each difference with a diagnosis (the prompt decoded alone, unpadded, by plain
`generate`: which side it agrees with, and the logit gap of the two tokens where they part), and
the memory-bandwidth bound of one decode step: bytes of weights read per step (every parameter
once; tied embeddings count once, as the LM head reads them) over the measured read bandwidth
of a large-tensor sum in torch on the same threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

# ---- measurement -------------------------------------------------------------------------------


@dataclass
class Counter:
    """Forward calls of a module, split into decode steps (one new token per row) and prefills."""

    steps: int = 0
    step_s: float = 0.0
    step_rows: int = 0
    prefills: int = 0
    prefill_s: float = 0.0
    _t0: list[float] = field(default_factory=list)

    def attach(self, module: torch.nn.Module) -> Callable[[], None]:
        def pre(_m: Any, args: Any, kwargs: Any) -> None:
            self._t0.append(time.perf_counter())

        def post(_m: Any, args: Any, kwargs: Any, out: Any) -> None:
            dt = time.perf_counter() - self._t0.pop()
            ids = kwargs.get("input_ids", args[0] if args else None)
            if ids is not None and ids.shape[1] == 1:
                self.steps, self.step_s, self.step_rows = (
                    self.steps + 1,
                    self.step_s + dt,
                    self.step_rows + ids.shape[0],
                )
            else:
                self.prefills, self.prefill_s = self.prefills + 1, self.prefill_s + dt

        h1 = module.register_forward_pre_hook(pre, with_kwargs=True)
        h2 = module.register_forward_hook(post, with_kwargs=True)
        return lambda: (h1.remove(), h2.remove())


@dataclass
class Run:
    side: str
    batch: int
    wall: float
    cpu: float
    counter: Counter
    tokens: int
    outputs: list[str]

    def row(self, n: int) -> str:
        c = self.counter
        per_step = 1000 * c.step_s / max(1, c.steps)
        wall_step = 1000 * (self.wall - c.prefill_s) / max(1, c.steps)
        return (
            f"{self.side:<5} b{self.batch:<2} {n / self.wall:7.2f} ex/s  wall {self.wall:6.2f} s  cpu {self.cpu:6.2f} s  "
            f"steps {c.steps:4d}  {per_step:6.2f} ms/step fwd  {wall_step:6.2f} ms/step wall  "
            f"prefill {c.prefills:3d} x ({c.prefill_s:5.2f} s)  tokens {self.tokens:5d}  row-steps {c.step_rows:5d}"
        )


def timed(
    side: str, batch: int, module: torch.nn.Module, fn: Callable[[], tuple[list[str], int | None]]
) -> Run:
    counter = Counter()
    detach = counter.attach(module)
    try:
        w0, c0 = time.perf_counter(), time.process_time()
        outputs, tokens = fn()
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        detach()
    if tokens is None:  # kick: every decode row and every prefilled prompt yields one kept token
        tokens = counter.step_rows + len(outputs)
    return Run(side, batch, wall, cpu, counter, tokens, outputs)


def read_bandwidth(mib: int = 1024, repeats: int = 5) -> tuple[float, float]:
    """(read GB/s of `x.sum()`, copy GB/s counting read + write) on a `mib` MiB float32 tensor; best of `repeats`."""
    x = torch.ones(mib * (1 << 20) // 4)
    y = torch.empty_like(x)
    x.sum(), y.copy_(x)  # touch every page first
    read = min(_secs(lambda: x.sum()) for _ in range(repeats))
    copy = min(_secs(lambda: y.copy_(x)) for _ in range(repeats))
    nbytes = x.numel() * 4
    return nbytes / read / 1e9, 2 * nbytes / copy / 1e9


def _secs(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def unique_bytes(module: torch.nn.Module) -> int:
    tensors = {t.data_ptr(): t for t in module.parameters()}
    return sum(t.numel() * t.element_size() for t in tensors.values())


# ---- side B: plain transformers generate ---------------------------------------------------------


def newline_ids(tok: Any) -> list[int]:
    """Every token whose text holds a newline (kick's stop set besides EOS)."""
    return sorted(i for t, i in tok.get_vocab().items() if "\n" in tok.convert_tokens_to_string([t]))


def eos_ids(module: Any, tok: Any) -> list[int]:
    ids: set[int] = set()
    for src in (module.generation_config.eos_token_id, tok.eos_token_id):
        ids.update([src] if isinstance(src, int) else list(src or []))
    return sorted(ids)


def make_stopper(nl: torch.Tensor) -> Any:
    from transformers import StoppingCriteria, StoppingCriteriaList

    class AtNewline(StoppingCriteria):
        """A row is done when its newest token holds a newline (generate pads it from then on)."""

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
            return torch.isin(input_ids[:, -1], nl)

    return StoppingCriteriaList([AtNewline()])


def cut(ids: Sequence[int], stop: set[int]) -> list[int]:
    """The generated ids up to and including the first stop token."""
    for k, t in enumerate(ids):
        if t in stop:
            return list(ids[: k + 1])
    return list(ids)


def hf_side(
    module: Any,
    tok: Any,
    prompts: Sequence[str],
    *,
    max_new_tokens: int,
    batch: int,
    answer: Callable[[str], str],
) -> tuple[list[str], int]:
    """(answers, tokens generated) from plain `generate`, batches in kick's order (longest first)."""
    encoded = [tok(p, add_special_tokens=True)["input_ids"] for p in prompts]
    order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))
    nl = newline_ids_cache(tok)
    eos = eos_ids(module, tok)
    stop = set(eos) | set(nl.tolist())
    outputs, tokens = [""] * len(prompts), 0
    for start in range(0, len(order), batch):
        idx = order[start : start + batch]
        enc = tok.pad({"input_ids": [encoded[i] for i in idx]}, padding=True, return_tensors="pt")
        width = enc["input_ids"].shape[1]
        out = module.generate(
            **enc,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            eos_token_id=eos,
            pad_token_id=tok.pad_token_id,
            stopping_criteria=make_stopper(nl),
        )
        for row, i in enumerate(idx):
            ids = cut(out[row, width:].tolist(), stop)
            tokens += len(ids)
            outputs[i] = answer(str(tok.decode(ids, skip_special_tokens=True)).split("\n", 1)[0])
    return outputs, tokens


_NL: dict[int, torch.Tensor] = {}


def newline_ids_cache(tok: Any) -> torch.Tensor:
    if id(tok) not in _NL:
        _NL[id(tok)] = torch.tensor(newline_ids(tok))
    return _NL[id(tok)]


def diagnose(
    module: Any, tok: Any, prompt: str, a: str, b: str, max_new_tokens: int, answer: Callable[[str], str]
) -> str:
    """Decode `prompt` alone (no padding) with plain greedy steps; say which side it matches and
    the logit gap between the two sides' tokens at the first step where their texts part."""
    ids = torch.tensor([tok(prompt, add_special_tokens=True)["input_ids"]])
    alone, _ = hf_side(module, tok, [prompt], max_new_tokens=max_new_tokens, batch=1, answer=answer)
    agrees = "A (kick)" if alone[0] == a else "B (generate)" if alone[0] == b else "neither"
    # walk the unpadded greedy path; at each step compare the top two logits
    gaps = []
    with torch.inference_mode():
        seq = ids
        for _ in range(max_new_tokens):
            logits = module(input_ids=seq).logits[0, -1].float()
            top = torch.topk(logits, 2)
            gaps.append(float(top.values[0] - top.values[1]))
            seq = torch.cat([seq, top.indices[:1].view(1, 1)], dim=1)
            text = answer(str(tok.decode(seq[0, ids.shape[1] :], skip_special_tokens=True)).split("\n", 1)[0])
            if not (a.startswith(text) and b.startswith(text)):
                break
    return f"unpadded batch-1 answer {alone[0]!r} agrees with {agrees}; top-2 logit gap where they part {gaps[-1]:.4f} (smallest on the path {min(gaps):.4f})"


# ---- main ---------------------------------------------------------------------------------------


def bench_dtype(
    a: argparse.Namespace, dtype: str, task: Any, samples: list[Any], folder: Any, read_gbs: float
) -> float:
    """Runs and prints one dtype's table; returns the best read bandwidth seen (GB/s)."""
    from dataclasses import replace

    from kick_models.embedded import load_smollm2
    from kick_tasks.metrics import first_line
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kick.plugins import DEFAULT_MODEL
    from kick.types import ModelSpec

    prompts = [s.prompt for s in samples]
    max_new = task.decoding.max_new_tokens
    n = len(samples)
    kick_model = load_smollm2(replace(ModelSpec(DEFAULT_MODEL), dtype=dtype))
    module = AutoModelForCausalLM.from_pretrained(str(folder), dtype=getattr(torch, dtype)).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    nbytes = unique_bytes(module)
    now, _ = read_bandwidth()
    read_gbs = max(read_gbs, now)  # the least contended measurement so far is nearest the hardware's
    bound = 1000 * nbytes / (read_gbs * 1e9)
    print(
        f"\nmemory read bandwidth now {now:.2f} GB/s (load average {os.getloadavg()}); best so far {read_gbs:.2f}"
    )
    print(f"== {dtype}: {nbytes / 1e6:.1f} MB of weights read per decode step; bound {bound:.1f} ms/step")

    def side_a(bs: int) -> tuple[list[str], None]:
        return [p.output for p in task.predict(kick_model, samples, batch_size=bs)], None

    def side_b() -> tuple[list[str], int]:
        return hf_side(module, tok, prompts, max_new_tokens=max_new, batch=a.batch, answer=first_line)

    # warm-up (allocator, kernels, newline ids) on the first batch of prompts: not timed
    task.predict(kick_model, samples[: a.batch], batch_size=a.batch)
    hf_side(module, tok, prompts[: a.batch], max_new_tokens=max_new, batch=a.batch, answer=first_line)
    runs: list[Run] = []
    for _ in range(a.repeats):
        this = [
            timed("kick", a.batch, kick_model.module, lambda: side_a(a.batch)),
            timed("hf", a.batch, module, side_b),
        ]
        for r in this:
            print(r.row(n))
        print(f"   load average {os.getloadavg()}")
        runs += this
    for _ in range(a.batch1_runs):  # the reference: kick one prompt at a time (after the A/B pairs)
        runs.append(timed("kick", 1, kick_model.module, lambda: side_a(1)))
        print(runs[-1].row(n))
        print(f"   load average {os.getloadavg()}")

    def med(side: str, bs: int, f: Callable[[Run], float]) -> float:
        return statistics.median(f(r) for r in runs if r.side == side and r.batch == bs)

    def step_ms(r: Run) -> float:
        return 1000 * r.counter.step_s / max(1, r.counter.steps)

    ka, hb = med("kick", a.batch, lambda r: r.wall), med("hf", a.batch, lambda r: r.wall)
    print(
        f"median of {a.repeats}: kick b{a.batch} {n / ka:.2f} ex/s, generate b{a.batch} {n / hb:.2f} ex/s: "
        f"kick / generate throughput {hb / ka:.2f}x; decode step kick {med('kick', a.batch, step_ms):.2f} ms, "
        f"generate {med('hf', a.batch, step_ms):.2f} ms, memory-bandwidth bound {bound:.1f} ms"
    )
    kc, hc = med("kick", a.batch, lambda r: r.cpu), med("hf", a.batch, lambda r: r.cpu)
    print(
        f"   CPU s kick {kc:.2f}, generate {hc:.2f}: generate / kick {hc / kc:.2f}x (less sensitive to load than wall)"
    )
    outs = {(r.side, r.batch): r.outputs for r in runs}  # the last repeat's
    stable = all(r.outputs == outs[(r.side, r.batch)] for r in runs)
    ref_a, ref_b = outs[("kick", a.batch)], outs[("hf", a.batch)]
    same = [i for i in range(n) if ref_a[i] == ref_b[i]]
    print(
        f"outputs equal kick b{a.batch} vs generate b{a.batch}: {len(same)}/{n} "
        f"(every side identical across its repeats: {stable})"
    )
    if a.batch1_runs:
        k1, b1 = med("kick", 1, lambda r: r.wall), outs[("kick", 1)]
        print(
            f"kick b1 {n / k1:.2f} ex/s (b{a.batch} over b1 {k1 / ka:.2f}x); outputs equal kick b1 vs kick "
            f"b{a.batch}: {sum(x == y for x, y in zip(b1, ref_a, strict=True))}/{n}, kick b1 vs generate "
            f"b{a.batch}: {sum(x == y for x, y in zip(b1, ref_b, strict=True))}/{n}"
        )
    for i in sorted(set(range(n)) - set(same)):
        print(f"  differs {samples[i].id}: kick {ref_a[i]!r} / generate {ref_b[i]!r}")
        print(f"     {diagnose(module, tok, prompts[i], ref_a[i], ref_b[i], max_new, first_line)}")
    return read_gbs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--n", type=int, default=96, help="the first n factoid-qa questions (data=shared)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    ap.add_argument(
        "--batch1-runs", type=int, default=1, help="runs of kick at batch 1 (the reference); 0: none"
    )
    a = ap.parse_args()
    if a.n < 1 or a.batch < 1 or a.repeats < 1 or a.threads < 1 or a.batch1_runs < 0:
        ap.error("--n, --batch, --repeats and --threads must be at least 1, --batch1-runs at least 0")
    torch.set_num_threads(a.threads)
    import transformers
    from kick_models.embedded import converted_folder

    from kick.plugins import DEFAULT_MODEL, load_plugins

    task = load_plugins().registry.create("task", "factoid-qa", data="shared")
    samples = list(task.samples())[: a.n]
    folder, _ = converted_folder()
    print(
        f"factoid-qa data=shared: {len(samples)} questions ({task.source.location}), first ids "
        f"{[s.id for s in samples[:3]]}; max_new_tokens {task.decoding.max_new_tokens}, stop at EOS or "
        f"first newline; model {DEFAULT_MODEL} ({folder}); threads {torch.get_num_threads()} of "
        f"{os.cpu_count()} cpus; torch {torch.__version__}, transformers {transformers.__version__}"
    )
    read_gbs, copy_gbs = read_bandwidth()
    print(
        f"memory bandwidth ({a.threads} threads, 1 GiB float32, best of 5): read (sum) {read_gbs:.2f} GB/s, "
        f"copy (read + write) {copy_gbs:.2f} GB/s; load average {os.getloadavg()}"
    )
    for dtype in a.dtypes:
        read_gbs = bench_dtype(a, dtype, task, samples, folder, read_gbs)
    now, copy_gbs = read_bandwidth()
    print(
        f"\nmemory bandwidth at the end: read {now:.2f} GB/s, copy {copy_gbs:.2f} GB/s; best read seen "
        f"{max(now, read_gbs):.2f} GB/s; load average {os.getloadavg()}"
    )


if __name__ == "__main__":
    main()
