"""The Python side of the line protocol of tools/compare/run's timing workers (the Rust
side, and its description, is benches/workloads/protocol.rs): torch_worker.py and
jax_worker.py hand `serve` their hello and a function that sets up a figure by name.

A figure is `(run, work)`: `run()` does one repetition and returns once its result is
computed (JAX's asynchronous dispatch is waited for inside `run`); `work` is its size.
"""

import json
import os
import sys
import time

WARMUP_RUNS = 3


def threads():
    """The thread count tools/compare/run asked for (all cores when run by hand)."""
    return int(os.environ.get("COMPARE_THREADS", os.cpu_count()))


def _time(run, budget, min_reps):
    started = time.perf_counter()
    seconds = []
    while len(seconds) < min_reps or time.perf_counter() - started < budget:
        rep = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - rep)
    return seconds


def _answer(ready, make, line):
    words = line.split()
    if len(words) != 3:
        return {"error": f"bad request {line!r}"}
    name, budget, min_reps = words[0], float(words[1]), int(words[2])
    if name not in ready:
        figure = make(name)
        if figure is None:
            return {"error": f"unknown figure {name!r}"}
        for _ in range(WARMUP_RUNS):
            figure[0]()
        ready[name] = figure
    run, work = ready[name]
    return {"figure": name, "seconds": _time(run, budget, min_reps), "work": work}


def serve(hello, make):
    """Prints `hello`, then answers requests from stdin until it closes."""
    print(json.dumps(hello), flush=True)
    ready = {}
    for line in sys.stdin:
        try:
            reply = _answer(ready, make, line)
        except Exception as error:  # the driver reports it and goes on with the others
            reply = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(reply), flush=True)
