"""Times `engram gradbench` on default-size workloads, single-threaded, by speaking the
GradBench protocol directly. Inputs are synthetic data with the official evals' shapes
(the LSTM sequence encodes the Sonnets text from ../shared/data/gradbench). This is a
local stand-in for the official harness, which generates its own data and validates.

    cargo build --release && python3 tools/gradbench/drive.py [eval ...]
"""

import json
import pathlib
import statistics
import subprocess
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(0)


def lstm_input(layers, chars):
    text = (ROOT.parent / "shared" / "data" / "gradbench" / "lstm_full.txt").read_bytes()[:chars]
    bits = 14
    seq = [[float((c >> i) & 1) for i in range(bits)] for c in text]
    return {
        "main_params": RNG.uniform(-0.5, 0.5, (2 * layers, 4 * bits)).tolist(),
        "extra_params": RNG.uniform(-0.5, 0.5, (3, bits)).tolist(),
        "state": RNG.uniform(-0.5, 0.5, (2 * layers, bits)).tolist(),
        "sequence": seq,
    }


def gmm_input(d, k, n):
    return {
        "d": d, "k": k, "n": n, "m": 0, "gamma": 1.0,
        "x": RNG.normal(size=(n, d)).tolist(), "alpha": RNG.normal(size=k).tolist(),
        "mu": RNG.normal(size=(k, d)).tolist(), "q": (0.1 * RNG.normal(size=(k, d))).tolist(),
        "l": (0.1 * RNG.normal(size=(k, d * (d - 1) // 2))).tolist(),
    }


def kmeans_input(k, n, d):
    points = RNG.normal(size=(n, d))
    return {"points": points.tolist(), "centroids": points[RNG.choice(n, k, replace=False)].tolist()}


WORKLOADS = {
    "lse": [("gradient", "n=640000", lambda: {"x": RNG.normal(size=640000).tolist()})],
    "llsq": [("gradient", "m=128 n=4096", lambda: {"x": RNG.normal(size=128).tolist(), "n": 4096})],
    "det": [("gradient", "ell=9", lambda: {"A": RNG.normal(size=81).tolist(), "ell": 9})],
    "ode": [
        ("primal", "n=10000 s=100", lambda: {"x": RNG.uniform(0, 1, 10000).tolist(), "s": 100}),
        ("gradient", "n=10000 s=100", lambda: {"x": RNG.uniform(0, 1, 10000).tolist(), "s": 100}),
    ],
    "gmm": [("jacobian", "d=64 k=100 n=1000", lambda: gmm_input(64, 100, 1000))],
    "kmeans": [("dir", "k=1000 n=10000 d=8", lambda: kmeans_input(1000, 10000, 8))],
    "lstm": [("jacobian", "l=4 c=4096", lambda: lstm_input(4, 4096))],
    "saddle": [(f, "start=[1,1]", lambda: {"start": [1.0, 1.0]}) for f in ("rr", "ff")],
    "particle": [(f, "w=0", lambda: {"w": 0.0}) for f in ("rr", "ff")],
}


def main():
    evals = sys.argv[1:] or list(WORKLOADS)
    tool = subprocess.Popen([str(ROOT / "target" / "release" / "engram"), "gradbench"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ident = 0
    print(f"{'eval':<9} {'function':<9} {'workload':<20} {'median ms':>10} {'runs':>5}")
    for name in evals:
        for function, label, make in WORKLOADS[name]:
            inp = make()
            inp.update({"min_runs": 3, "min_seconds": 1.0})
            msg = {"id": ident, "kind": "evaluate", "module": name, "function": function, "input": inp}
            ident += 1
            tool.stdin.write(json.dumps(msg) + "\n")
            tool.stdin.flush()
            answer = json.loads(tool.stdout.readline())
            if not answer.get("success"):
                print(f"{name:<9} {function:<9} {label:<20} failed: {answer.get('error')}")
                continue
            runs = [t["nanoseconds"] / 1e6 for t in answer["timings"] if t["name"] == "evaluate"]
            print(f"{name:<9} {function:<9} {label:<20} {statistics.median(runs):>10.2f} {len(runs):>5}", flush=True)
    tool.stdin.close()
    tool.wait()


if __name__ == "__main__":
    main()
