#!/usr/bin/env python3
"""Times whole invocations of two or more binaries, interleaved run by run, so that a machine
whose speed drifts (a shared VM) affects each binary alike.

    scripts/bench-interleaved.py BIN_A,BIN_B [ARGS...]        # RUNS=40 by default
    scripts/bench-interleaved.py BIN_A:WS_A,BIN_B:WS_B memory search --workspace {} ...

Each run starts every binary once, in alternating order; prints per binary the median, first
quartile and minimum wall time, and the median CPU time (user + system, from wait4). A binary
given as PATH:VALUE gets VALUE in place of each `{}` argument: its own copy of a workspace (and
so of its index) when the builds leave different files behind them.
Used for the `memory search` figures of docs/PERFORMANCE.md.
"""
import os
import statistics
import subprocess
import sys
import time


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    entries = [entry.partition(":") for entry in sys.argv[1].split(",")]
    binaries = [path for path, _, _ in entries]
    own = {path: value for path, _, value in entries}
    args = sys.argv[2:]
    runs = int(os.environ.get("RUNS", "40"))
    wall = {b: [] for b in binaries}
    cpu = {b: [] for b in binaries}
    for i in range(runs):
        for b in binaries if i % 2 == 0 else binaries[::-1]:
            start = time.perf_counter()
            argv = [b] + [own[b] if a == "{}" else a for a in args]
            child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _, status, usage = os.wait4(child.pid, 0)
            wall[b].append((time.perf_counter() - start) * 1000)
            cpu[b].append((usage.ru_utime + usage.ru_stime) * 1000)
            if status != 0:
                sys.exit(f"{b} exited with status {status}")
    for b in binaries:
        w = wall[b]
        print(
            f"{b}: wall median {statistics.median(w):.2f} ms, p25 {statistics.quantiles(w, n=4)[0]:.2f} ms, "
            f"min {min(w):.2f} ms; CPU median {statistics.median(cpu[b]):.2f} ms ({runs} runs)"
        )


if __name__ == "__main__":
    main()
