"""How long `kick judge` takes to end after Ctrl-C with requests in flight, and how long a
request to a server trickling a byte every 2 s is held with timeout_s=5 (issue 14, item 8).

    PYTHONPATH=.:plugins:tests nice -n 10 python benchmarks/judge_interrupt.py [--trials 3]
"""

from __future__ import annotations

import argparse
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from support.fake_plugin import load_fake_model  # noqa: E402
from support.openai_server import FakeOpenAIServer, Reply  # noqa: E402
from support.processes import kick_process  # noqa: E402


def interrupt_seconds(out: Path) -> float:
    with FakeOpenAIServer(lambda request, n: Reply(content="8 2", delay=300)) as server:
        params = {"base_url": server.url, "model": "m", "timeout_s": 120, "concurrency": 4}
        args = [a for k, v in params.items() for a in ("--param", f"{k}={v}")]
        child = kick_process("judge", out, "--judge", "pairwise", "--force", *args, builtins=True)
        while server.count < 4 and child.poll() is None:
            time.sleep(0.02)
        child.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        child.communicate(timeout=300)
        return time.monotonic() - t0


def trickle_seconds() -> float:
    from kick_judges.transport import OpenAIBackend, RequestBudget, RequestError, RetryPolicy

    with FakeOpenAIServer(lambda request, n: Reply(content="8 2", trickle=2.0)) as server:
        backend = OpenAIBackend(base_url=server.url, model="m", api_key="k", timeout_s=5.0,
                                retry=RetryPolicy(max_retries=0), budget=RequestBudget(0))  # fmt: skip
        t0 = time.monotonic()
        try:
            backend.complete([{"role": "user", "content": "hi"}], max_tokens=4, temperature=0.0)
        except RequestError:
            pass
        return time.monotonic() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    n = ap.parse_args().trials
    from support.fake_plugin import plugin

    from kick.plugins import load_plugins
    from kick.runner import run
    from kick.types import ComponentSpec, ModelSpec, RunSpec

    out = Path(tempfile.mkdtemp(prefix="kick-int-")) / "run"
    spec = RunSpec(ModelSpec("fake-model"), (ComponentSpec("fake-instruct"),), ComponentSpec("fake-prune"))
    run(spec, out, plugins=load_plugins(extra=[("fake", plugin)]), model=load_fake_model())
    waits = [interrupt_seconds(out) for _ in range(n)]
    print(f"Ctrl-C to exit of kick judge, 4 requests in flight (server hangs 300 s, timeout_s=120): "
          f"{', '.join(f'{w:.2f}' for w in waits)} s (n={n})")  # fmt: skip
    held = [trickle_seconds() for _ in range(n)]
    print(f"a request to a server trickling a byte every 2 s, timeout_s=5, no retry: held "
          f"{', '.join(f'{h:.2f}' for h in held)} s (n={n})")  # fmt: skip


if __name__ == "__main__":
    main()
