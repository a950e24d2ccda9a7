"""The longest stretch with no progress on a terminal: runs a command under a pseudo-terminal
(so rich draws its live display as it would for a person), and prints the longest gaps between
visible progress events.

A progress event is a screen line, with the colours, the spinner, the bar glyphs and the clock
columns (elapsed, ETA, the time stamp of log lines) stripped, that was not on the screen before:
a counter that moved ('factoid-qa 3/8'), a new bar, a new log line (a stage line forgets what
was seen, so a bar that repeats an earlier text, a second compression, counts again). A spinner
turning or a clock ticking is not progress.

    python benchmarks/progress_gaps.py [--log FILE] -- kick sweep --spec examples/demo.toml ...
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import subprocess
import sys
import time

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]")
CLOCK = re.compile(r"-?:?-?-?:?\d*:\d\d:\d\d|\d\d:\d\d:\d\d|-:--:--")
STAGE = re.compile(r"^\d\d:\d\d:\d\d ")  # kick's stage lines start with their time
SPIN = re.compile(r"[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏━╸╺\s]+")


def normal(line: str) -> str:
    return SPIN.sub(" ", CLOCK.sub("", line)).strip()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log", help="also write every event with its time here")
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    env = {**os.environ, "COLUMNS": "120", "LINES": "50", "TERM": "xterm-256color"}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    seen: set[str] = set()
    events: list[tuple[float, str]] = [(0.0, "<start>")]
    buf = ""
    while True:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 65536).decode("utf-8", "replace")
            except OSError:
                break
            if not chunk:
                break
            buf += ANSI.sub("", chunk.replace("\r", "\n"))
            *lines, buf = buf.split("\n")
            now = time.monotonic() - t0
            for line in lines:
                n = normal(line)
                if n and n not in seen:
                    if STAGE.match(line.strip()):  # a new stage: bars may repeat an earlier text
                        seen.clear()
                    seen.add(n)
                    events.append((now, n))
        elif proc.poll() is not None:
            break
    proc.wait()
    end = time.monotonic() - t0
    events.append((end, "<end>"))
    gaps = sorted(
        ((events[i + 1][0] - events[i][0], events[i][1], events[i + 1][1]) for i in range(len(events) - 1)),
        reverse=True,
    )
    if a.log:
        with open(a.log, "w", encoding="utf-8") as f:
            f.writelines(f"{t:8.1f} {e}\n" for t, e in events)
    print(f"exit {proc.returncode}; {end:.0f} s; {len(events) - 2} progress events")
    for g, before, after in gaps[: a.top]:
        print(f"  {g:6.1f} s without progress, after: {before[:70]!r} until: {after[:70]!r}")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
