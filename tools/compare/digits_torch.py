"""The digits MLP and CNN of `examples/digits_mlp.rs` / `examples/digits_cnn.rs`, and a
LeNet-5 on the bundled 10k MNIST (8k/2k), trained in PyTorch the same way — seeded,
Adam 1e-3, batch 32 — so that Engram's times and accuracies have a reference measured
on the same machine in the same session.

    python3 tools/compare/digits_torch.py            # all three
    python3 tools/compare/digits_torch.py mlp cnn    # some of them

The splits are seeded 80/20 permutations drawn by torch, not the ChaCha8 permutation the
Rust examples draw, so accuracies differ by a few test images. Threads: torch's default
(every core), as Engram's kernels use every core.

Each run's figures are also written to `torch_times.json` in the folder the examples
write to (`$ENGRAM_EXAMPLE_OUT`, else `engram-examples-out/` in the working directory, so
run it from the repository root), as `{"lenet": {"seconds_per_epoch": 1.23, "accuracy":
0.98}, ...}` keyed by the names above; a run of some models keeps the others' entries.
`cargo run --release --example mnist_cnn` prints the `lenet` time beside Engram's.
"""

import gzip
import json
import os
import pathlib
import sys
import time

import numpy as np
import torch
from torch import nn

DATA = pathlib.Path(__file__).resolve().parents[2] / "data"
OUT = pathlib.Path(os.environ.get("ENGRAM_EXAMPLE_OUT", "engram-examples-out"))


def digits():
    rows = np.loadtxt(gzip.open(DATA / "sklearn" / "digits.csv.gz", "rt"), delimiter=",")
    x = torch.tensor(rows[:, :-1] / 16.0, dtype=torch.float32)
    y = torch.tensor(rows[:, -1], dtype=torch.long)
    return x, y


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def mnist10k():
    folder = DATA / "mnist10k"
    x = idx(folder / "mnist10k-images-idx3-ubyte.gz").astype(np.float32) / 255.0
    y = idx(folder / "mnist10k-labels-idx1-ubyte.gz").astype(np.int64)
    return torch.tensor(x).unsqueeze(1), torch.tensor(y)


def split(x, y, train, seed=42):
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    a, b = order[:train], order[train:]
    return x[a], y[a], x[b], y[b]


def train(name, model, data, epochs):
    """Trains `model` and returns its seconds per epoch and test accuracy."""
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for batch in torch.randperm(len(xtr), generator=generator).split(32):
            optimizer.zero_grad()
            loss_fn(model(xtr[batch]), ytr[batch]).backward()
            optimizer.step()
    seconds = time.perf_counter() - started
    model.eval()
    with torch.no_grad():
        accuracy = (model(xte).argmax(1) == yte).float().mean().item()
    print(f"{name}: {epochs} epochs, test accuracy {100 * accuracy:.2f}%, {seconds:.1f} s "
          f"({seconds / epochs:.2f} s/epoch), torch {torch.__version__}, {torch.get_num_threads()} threads")
    return {"seconds_per_epoch": seconds / epochs, "accuracy": accuracy}


def record(results):
    """Merges `results` into OUT/torch_times.json, keeping entries of models not run."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "torch_times.json"
    merged = json.loads(path.read_text()) if path.is_file() else {}
    merged.update(results)
    path.write_text(json.dumps(merged, indent=2) + "\n")
    print(f"wrote {path}")


def main():
    torch.manual_seed(0)
    chosen = sys.argv[1:] or ["mlp", "cnn", "lenet"]
    results = {}
    if "mlp" in chosen or "cnn" in chosen:
        x, y = digits()
        n_train = round(0.8 * len(x))
        if "mlp" in chosen:
            torch.manual_seed(0)
            mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
            results["mlp"] = train("digits MLP 64-128-10", mlp, split(x, y, n_train), 50)
        if "cnn" in chosen:
            torch.manual_seed(0)
            cnn = nn.Sequential(
                nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(),
                nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(),
                nn.MaxPool2d(2), nn.Flatten(),
                nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10))
            results["cnn"] = train("digits CNN", cnn, split(x.reshape(-1, 1, 8, 8), y, n_train), 30)
    if "lenet" in chosen:
        x, y = mnist10k()
        torch.manual_seed(0)
        lenet = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        results["lenet"] = train("LeNet-5 on MNIST 10k (8k/2k)", lenet, split(x, y, 8000), 20)
    record(results)


if __name__ == "__main__":
    main()
