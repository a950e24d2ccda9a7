"""Start and stop a real OpenAI-compatible server (`llm-katan`) on 127.0.0.1 serving the embedded
SmolLM2 folder, for the judge's server tests and benchmark."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SERVED_NAME = "judge-model"


@dataclass
class KatanServer:
    url: str  # the OpenAI base URL, .../v1
    root: str
    process: subprocess.Popen[bytes]
    log: Path

    def requests_total(self) -> int:
        """Chat requests the server has answered, from its Prometheus metrics."""
        with urllib.request.urlopen(f"{self.root}/metrics", timeout=10) as resp:
            text = resp.read().decode()
        m = re.search(r"^llm_katan_requests_total\{[^}]*\}\s+(\d+)", text, re.M)
        return int(m.group(1)) if m else 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def katan_command() -> list[str] | None:
    exe = shutil.which("llm-katan") or str(Path(sys.executable).with_name("llm-katan"))
    return [exe] if Path(exe).exists() else None


@contextlib.contextmanager
def katan_server(
    workdir: Path, *, max_concurrent: int = 1, startup_s: float = 150.0
) -> Iterator[KatanServer]:
    """Run llm-katan until the block ends; wait for readiness by polling /health."""
    from kick_models.embedded import converted_folder

    cmd = katan_command()
    if cmd is None:
        raise RuntimeError("llm-katan is not installed: pip install llm-katan fastapi uvicorn")
    folder, _ = converted_folder()
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "llm-katan.log"
    args = [
        *cmd, "--model", str(folder), "--name", SERVED_NAME, "--host", "127.0.0.1", "--port", str(port),
        "--device", "cpu", "--no-quantize", "--temperature", "0", "--stats-file", str(workdir / "stats.json"),
        "--max-concurrent", str(max_concurrent), "--disable-dashboard", "--log-level", "warning",
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with log.open("wb") as logf:
        proc = subprocess.Popen(args, stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    root = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llm-katan exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{root}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llm-katan not ready after {startup_s:.0f}s: {log.read_text()[-2000:]}")
            time.sleep(0.5)
        yield KatanServer(f"{root}/v1", root, proc, log)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
