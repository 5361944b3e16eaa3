"""PyTorch's exp, log, tanh, sigmoid and erf on 1M and 16M elements, f32 and f64, in GB/s
(bytes read + bytes written) beside a plain copy (`x.clone()`), to set beside
`cargo bench --bench transcendentals` measured in the same session.

    python3 tools/compare/transcendentals_torch.py --threads 1
    python3 tools/compare/transcendentals_torch.py --threads 2

Inputs as in the bench: uniform on [-4, 4], and [0.01, 4] for `log`. Each figure is the
median over repeats of out-of-place calls (a fresh output each time, as Engram's ops).
"""

import argparse
import statistics
import time

import torch

FUNCTIONS = {
    "copy": torch.clone,
    "exp": torch.exp,
    "ln": torch.log,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "erf": torch.erf,
}


def gbps(f, x, seconds):
    f(x)  # warm up: allocator, first-touch, kernel dispatch
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 5:
        start = time.perf_counter()
        f(x)
        times.append(time.perf_counter() - start)
    return 2 * x.numel() * x.element_size() / statistics.median(times) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seconds", type=float, default=1.0, help="per figure")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    print(f"torch {torch.__version__}, {args.threads} thread(s), GB/s")
    for dtype in (torch.float32, torch.float64):
        for label, n in (("1M", 1 << 20), ("16M", 1 << 24)):
            x = torch.rand(n, generator=gen, dtype=dtype) * 8 - 4
            pos = torch.rand(n, generator=gen, dtype=dtype) * 3.99 + 0.01
            row = [
                f"{name} {gbps(f, pos if name == 'ln' else x, args.seconds):.1f}"
                for name, f in FUNCTIONS.items()
            ]
            print(f"{str(dtype).removeprefix('torch.')} {label}: " + ", ".join(row))


if __name__ == "__main__":
    main()
