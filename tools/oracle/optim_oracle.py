"""PyTorch's optimizers, schedulers and gradient clipping on fixed numbers, for Engram's
tests (`tests/nn_optim.rs`).

Writes `tests/fixtures/nn/optim.json`:
- `optimizers`: for each case, two parameters (`a` of shape [2, 3], `b` of shape [3]),
  three steps of given gradients (null: the parameter has no gradient that step), and the
  parameters after each step, computed by `torch.optim` in float64 and in float32;
- `schedulers`: each group's learning rate after construction and after each epoch;
- `clipping`: gradients before and after `clip_grad_norm_` / `clip_grad_value_`.

Run from the repository root: `python3 tools/oracle/optim_oracle.py` (torch 2.x).
"""

import json
import os

import numpy as np
import torch

OUT = os.path.join("tests", "fixtures", "nn", "optim.json")
rng = np.random.default_rng(11)


def draw(*shape):
    return [round(float(x), 6) for x in rng.normal(size=shape).ravel()]


A0, B0 = draw(2, 3), draw(3)
GRADS = [{"a": draw(2, 3), "b": draw(3)} for _ in range(3)]
# A step in which `b` gets no gradient: PyTorch skips it and its state does not advance.
GRADS_SKIP = [GRADS[0], {"a": GRADS[1]["a"], "b": None}, GRADS[2]]

OPTIMIZERS = [
    ("sgd", "SGD", {"lr": 0.1}, None, GRADS),
    ("sgd_momentum", "SGD", {"lr": 0.1, "momentum": 0.9}, None, GRADS),
    ("sgd_dampening_decay", "SGD", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3, "weight_decay": 0.01}, None, GRADS),
    ("sgd_nesterov", "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}, None, GRADS),
    ("sgd_momentum_skip", "SGD", {"lr": 0.1, "momentum": 0.9}, None, GRADS_SKIP),
    ("adam", "Adam", {"lr": 0.01}, None, GRADS),
    ("adam_defaults", "Adam", {}, None, GRADS),
    ("adam_l2_betas", "Adam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}, None, GRADS),
    ("adam_amsgrad", "Adam", {"lr": 0.01, "amsgrad": True}, None, GRADS),
    ("adam_skip", "Adam", {"lr": 0.01}, None, GRADS_SKIP),
    ("adam_groups", "Adam", {"lr": 0.01}, {"lr": 0.05, "weight_decay": 0.2}, GRADS),
    ("adamw", "AdamW", {"lr": 0.01}, None, GRADS),
    ("adamw_amsgrad_decay", "AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}, None, GRADS),
    ("adamw_groups", "AdamW", {"lr": 0.01}, {"lr": 0.001, "weight_decay": 0.0}, GRADS),
    ("rmsprop", "RMSprop", {}, None, GRADS),
    ("rmsprop_momentum_centered", "RMSprop", {"lr": 0.01, "momentum": 0.9, "centered": True}, None, GRADS),
    ("rmsprop_alpha_decay", "RMSprop", {"lr": 0.02, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1}, None, GRADS),
    ("rmsprop_momentum", "RMSprop", {"lr": 0.01, "momentum": 0.5}, None, GRADS),
    ("adagrad", "Adagrad", {}, None, GRADS),
    ("adagrad_all", "Adagrad", {"lr": 0.1, "lr_decay": 0.1, "initial_accumulator_value": 0.5, "weight_decay": 0.1, "eps": 1e-6}, None, GRADS),
    ("sgd_groups", "SGD", {"lr": 0.1, "momentum": 0.9}, {"lr": 0.01, "weight_decay": 0.5}, GRADS),
]


def run_optimizer(cls, options, group_b, grads, dtype):
    a = torch.tensor(A0, dtype=dtype).reshape(2, 3).requires_grad_()
    b = torch.tensor(B0, dtype=dtype).requires_grad_()
    if group_b is None:
        groups = [{"params": [a, b]}]
    else:
        groups = [{"params": [a]}, {"params": [b], **group_b}]
    opt = getattr(torch.optim, cls)(groups, foreach=False, **options)
    out = []
    for g in grads:
        for p, name, shape in ((a, "a", (2, 3)), (b, "b", (3,))):
            p.grad = None if g[name] is None else torch.tensor(g[name], dtype=dtype).reshape(shape)
        opt.step()
        out.append({"a": a.detach().double().ravel().tolist(), "b": b.detach().double().ravel().tolist()})
    return out


def optimizers():
    cases = []
    for name, cls, options, group_b, grads in OPTIMIZERS:
        cases.append({
            "name": name,
            "optimizer": cls,
            "options": options,
            "group_b": group_b,
            "a": A0,
            "b": B0,
            "grads": grads,
            "expected_f64": run_optimizer(cls, options, group_b, grads, torch.float64),
            "expected_f32": run_optimizer(cls, options, group_b, grads, torch.float32),
        })
    return cases


S = torch.optim.lr_scheduler
EPOCHS = 15


def lr_sequence(make):
    a = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1)
    sched = make(opt)
    lrs = [[g["lr"] for g in opt.param_groups]]
    for _ in range(EPOCHS):
        opt.step()
        sched.step()
        lrs.append([g["lr"] for g in opt.param_groups])
    return lrs


SCHEDULERS = [
    ("step", {"step_size": 3, "gamma": 0.5}, lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
    ("multi_step", {"milestones": [2, 5, 5, 9], "gamma": 0.3}, lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    ("exponential", {"gamma": 0.9}, lambda o: S.ExponentialLR(o, gamma=0.9)),
    ("cosine", {"t_max": 10, "eta_min": 0.001}, lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001)),
    ("linear", {"start_factor": 0.25, "end_factor": 1.0, "total_iters": 4}, lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4)),
    ("warmup_cosine", {"epochs": 3, "start_factor": 0.1, "t_max": 8, "eta_min": 0.0},
     lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=3),
                                  S.CosineAnnealingLR(o, T_max=8, eta_min=0.0)], milestones=[3])),
]

PLATEAU_METRICS = [1.0, 0.9, 0.95, 0.899, 0.91, 0.92, 0.93, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7]
PLATEAUS = [
    ("plateau_min", {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 0.01, "threshold_mode": "rel", "cooldown": 1, "min_lr": 0.01}),
    ("plateau_max_abs", {"mode": "max", "factor": 0.3, "patience": 0, "threshold": 0.05, "threshold_mode": "abs", "cooldown": 0, "min_lr": 0.0}),
    ("plateau_defaults", {"mode": "min", "factor": 0.1, "patience": 10, "threshold": 1e-4, "threshold_mode": "rel", "cooldown": 0, "min_lr": 0.0}),
]


def schedulers():
    cases = [{"name": n, "options": o, "lrs": lr_sequence(f)} for n, o, f in SCHEDULERS]
    for name, options in PLATEAUS:
        a = torch.zeros(1, requires_grad=True)
        b = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.02}], lr=0.1)
        sched = S.ReduceLROnPlateau(opt, **options)
        lrs = [[g["lr"] for g in opt.param_groups]]
        for m in PLATEAU_METRICS:
            opt.step()
            sched.step(m)
            lrs.append([g["lr"] for g in opt.param_groups])
        cases.append({"name": name, "options": options, "metrics": PLATEAU_METRICS, "lrs": lrs})
    return cases


def clipping():
    cases = []
    for kind, value, dtype in (("norm", 1.0, torch.float64), ("norm", 100.0, torch.float64),
                               ("norm", 0.5, torch.float32), ("value", 0.5, torch.float64)):
        a = torch.zeros(2, 3, dtype=dtype, requires_grad=True)
        b = torch.zeros(3, dtype=dtype, requires_grad=True)
        a.grad = torch.tensor(GRADS[0]["a"], dtype=dtype).reshape(2, 3)
        b.grad = torch.tensor(GRADS[0]["b"], dtype=dtype)
        case = {"kind": kind, "max": value, "dtype": str(dtype).removeprefix("torch."),
                "grads": GRADS[0]}
        if kind == "norm":
            case["total_norm"] = float(torch.nn.utils.clip_grad_norm_([a, b], value, foreach=False))
        else:
            torch.nn.utils.clip_grad_value_([a, b], value, foreach=False)
        case["clipped"] = {"a": a.grad.double().ravel().tolist(), "b": b.grad.double().ravel().tolist()}
        cases.append(case)
    return cases


def main():
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    fixture = {
        "generator": f"tools/oracle/optim_oracle.py, torch {torch.__version__}",
        "optimizers": optimizers(),
        "schedulers": schedulers(),
        "clipping": clipping(),
    }
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
