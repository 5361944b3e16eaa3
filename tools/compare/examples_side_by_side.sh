#!/usr/bin/env bash
# The three trainings of the examples issue, Engram and PyTorch in turn in one run, so
# that the times are measured on the same machine under the same load:
#
#   digits MLP 64-128-10, 50 epochs    examples/digits_mlp.rs   vs  digits_torch.py mlp
#   digits CNN, 30 epochs              examples/digits_cnn.rs   vs  digits_torch.py cnn
#   LeNet-5 on MNIST 10k, 20 epochs    examples/mnist_cnn.rs    vs  digits_torch.py lenet
#
#   tools/compare/examples_side_by_side.sh        # from the repository root
#
# Needs `python3 -m pip install torch numpy`. Both sides use every core and the same
# data, model, optimizer (Adam 1e-3), batch size (32) and epochs; each prints its training
# time. Engram's digits figures include the per-epoch validation pass that `fit` makes,
# which PyTorch's loop does not (so they favour PyTorch slightly). The splits are drawn by
# each side's own seeded generator, so accuracies differ by a few test images.
set -euo pipefail
cd "$(dirname "$0")/../.."

echo "building the examples (release)..."
cargo build --release --quiet --example digits_mlp --example digits_cnn --example mnist_cnn

run_pair() {
    local torch_name=$1 example=$2
    echo
    echo "== $example (Engram) and $torch_name (PyTorch)"
    python3 tools/compare/digits_torch.py "$torch_name" | grep -v '^wrote'
    "target/release/examples/$example" | grep -E 'test accuracy .* after|PyTorch'
}

run_pair mlp digits_mlp
run_pair cnn digits_cnn
run_pair lenet mnist_cnn
