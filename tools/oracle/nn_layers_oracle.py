"""PyTorch oracle for engram-nn's feed-forward layers: `tests/nn_layers.rs` must agree.

For each case, the layer's parameters are set to fixed random values, the layer runs in
float64 on fixed inputs, and the fixture holds the output y and the gradients of
<y, r> (r a fixed random cotangent) with respect to the input and every parameter.
BatchNorm cases also hold the running statistics after two training-mode calls and the
output of an evaluation-mode call. PyTorch (not JAX) is the reference here because these
layers' semantics are PyTorch's: parameter layouts, default eps, running-variance update.

    python3 -m pip install torch numpy
    python3 tools/oracle/nn_layers_oracle.py      # writes tests/fixtures/nn/layers.json
"""

import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(11)
CASES = {}


def randn(*shape):
    return torch.tensor(RNG.normal(size=shape))


def enc(t):
    t = t.detach()
    return {"shape": list(t.shape), "data": t.reshape(-1).tolist()}


def run(name, module, x, attrs=None, extra=None):
    """Runs `module` on `x` (float input, or index tensor) and records y and gradients."""
    module = module.double()
    params = dict(module.named_parameters())
    for p in params.values():
        with torch.no_grad():
            p.copy_(randn(*p.shape))
    if torch.is_floating_point(x):
        x = x.clone().requires_grad_(True)
    y = module(x)
    r = randn(*y.shape)
    (y * r).sum().backward()
    entry = {
        "attrs": attrs or {},
        "inputs": {"x": enc(x) if torch.is_floating_point(x) else {"shape": list(x.shape), "data": x.reshape(-1).tolist()}, "r": enc(r)},
        "params": {k: enc(p) for k, p in params.items()},
        "y": enc(y),
        "grads": {k: enc(p.grad) for k, p in params.items()},
    }
    if torch.is_floating_point(x):
        entry["grads"]["x"] = enc(x.grad)
    if extra:
        entry.update(extra(module))
    CASES[name] = entry


run("linear", torch.nn.Linear(4, 5), randn(3, 4))
run("linear_no_bias_3d", torch.nn.Linear(3, 2, bias=False), randn(2, 4, 3))
run("conv2d_stride_pad", torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), randn(2, 3, 6, 5),
    {"in": 3, "out": 4, "kernel": 3, "stride": 2, "padding": 1, "dilation": 1, "groups": 1})
run("conv2d_dilation_groups", torch.nn.Conv2d(4, 6, 3, padding=2, dilation=2, groups=2), randn(1, 4, 7, 6),
    {"in": 4, "out": 6, "kernel": 3, "stride": 1, "padding": 2, "dilation": 2, "groups": 2})
run("conv1d", torch.nn.Conv1d(4, 6, 3, stride=2, padding=1, groups=2), randn(2, 4, 9),
    {"in": 4, "out": 6, "kernel": 3, "stride": 2, "padding": 1, "dilation": 1, "groups": 2})
run("layer_norm", torch.nn.LayerNorm([3, 4]), randn(2, 3, 4))
run("embedding_padding", torch.nn.Embedding(6, 3, padding_idx=0), torch.tensor([[1, 5, 1], [0, 2, 5]]),
    {"num": 6, "dim": 3, "padding_idx": 0})
run("max_pool2d", torch.nn.MaxPool2d(3, stride=2, padding=1), randn(2, 2, 5, 5))
run("avg_pool2d", torch.nn.AvgPool2d(3, stride=2, padding=1), randn(2, 2, 5, 5))
run("adaptive_avg_pool2d", torch.nn.AdaptiveAvgPool2d((3, 4)), randn(1, 2, 5, 7))


def batch_norm_case(name, module, shape):
    """Two training calls (the second is recorded), then an evaluation call."""
    module = module.double()
    with torch.no_grad():
        module.weight.copy_(randn(*module.weight.shape))
        module.bias.copy_(randn(*module.bias.shape))
    params = {k: enc(p) for k, p in module.named_parameters()}
    x1 = randn(*shape) * 2.0 + 1.0
    x2 = (randn(*shape) * 0.5 - 1.0).requires_grad_(True)
    x3 = randn(*shape)
    module.train()
    module(x1)
    y = module(x2)
    r = randn(*y.shape)
    (y * r).sum().backward()
    module.eval()
    y_eval = module(x3)
    CASES[name] = {
        "attrs": {"channels": shape[1]},
        "inputs": {"x1": enc(x1), "x": enc(x2), "x3": enc(x3), "r": enc(r)},
        "params": params,
        "y": enc(y),
        "grads": {"x": enc(x2.grad), "weight": enc(module.weight.grad), "bias": enc(module.bias.grad)},
        "running_mean": enc(module.running_mean),
        "running_var": enc(module.running_var),
        "y_eval": enc(y_eval),
    }


batch_norm_case("batch_norm2d", torch.nn.BatchNorm2d(3), (4, 3, 2, 3))
batch_norm_case("batch_norm1d", torch.nn.BatchNorm1d(3), (5, 3))
batch_norm_case("batch_norm1d_sequence", torch.nn.BatchNorm1d(2), (3, 2, 4))

out = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "nn" / "layers.json"
out.write_text(json.dumps({"torch_version": torch.__version__, "cases": CASES}, indent=None) + "\n")
print(f"wrote {len(CASES)} cases to {out}")
