"""PyTorch oracle for engram-nn's losses and sequence layers (PyTorch defines their
reference semantics: reductions and weights of the losses, LSTM/GRU gate order,
MultiheadAttention). Writes small JSON fixtures under tests/fixtures/nn/, checked by
tests/nn_loss.rs and tests/nn_seq.rs; the tests need no Python.

    python3 -m pip install torch numpy
    python3 tools/oracle/nn_oracle.py

Each fixture is {"generator", "torch", "cases": {name: {tensor name: {"shape", "data"}}}}:
the inputs, the options the Rust side repeats by name, the value and the gradients.
"""

import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)
RNG = np.random.default_rng(11)
OUT = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "nn"


def enc(t):
    t = torch.as_tensor(t).detach()
    if t.dtype == torch.bool:
        data = [bool(v) for v in t.flatten().tolist()]
    else:
        # JSON has no NaN: PyTorch's NaN (a 0/0 the Rust side answers with 0) is null.
        data = [None if v != v else v for v in t.flatten().tolist()]
    return {"shape": list(t.shape), "data": data}


def leaf(shape, scale=1.0, dtype=torch.float64):
    return torch.tensor(RNG.normal(size=shape) * scale, dtype=dtype, requires_grad=True)


def record(cases, name, fn, inputs, extra=None):
    """Runs fn(*inputs) -> loss tensor, and records the value and the gradient of
    sum(loss * cotangent) for every input that requires grad."""
    out = fn(*inputs)
    cot = torch.tensor(RNG.normal(size=tuple(out.shape)), dtype=out.dtype)
    grads = torch.autograd.grad((out * cot).sum(), [x for x in inputs if x.requires_grad])
    case = {f"input{i}": enc(x) for i, x in enumerate(inputs)}
    case["value"] = enc(out)
    case["cotangent"] = enc(cot)
    gi = iter(grads)
    for i, x in enumerate(inputs):
        if x.requires_grad:
            case[f"grad{i}"] = enc(next(gi))
    for k, v in (extra or {}).items():
        case[k] = enc(v)
    cases[name] = case


def probs(shape):
    return torch.tensor(RNG.uniform(0.05, 0.95, size=shape), requires_grad=True)


def losses():
    c = {}
    x, t = leaf((3, 4)), leaf((3, 4))
    record(c, "mse_mean", lambda a, b: F.mse_loss(a, b), [x, t])
    record(c, "mse_none", lambda a, b: F.mse_loss(a, b, reduction="none"), [x, t])
    record(c, "l1_sum", lambda a, b: F.l1_loss(a, b, reduction="sum"), [x, t])
    record(c, "smooth_l1_beta_half_mean", lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), [x, t])
    record(c, "huber_delta_1_5_sum", lambda a, b: F.huber_loss(a, b, delta=1.5, reduction="sum"), [x, t])

    w = torch.tensor(RNG.uniform(0.5, 2.0, size=(4,)))
    p, y = probs((3, 4)), probs((3, 4))
    record(c, "bce_weight_mean", lambda a, b: F.binary_cross_entropy(a, b, weight=w), [p, y], {"weight": w})
    edge = torch.tensor([0.0, 1.0, 0.5, 1.0, 0.0, 1e-30])
    edge_y = torch.tensor([1.0, 0.0, 0.3, 1.0, 0.0, 1.0])
    c["bce_floor_none"] = {
        "input0": enc(edge),
        "input1": enc(edge_y),
        "value": enc(F.binary_cross_entropy(edge, edge_y, reduction="none")),
    }

    logits, y = leaf((3, 4), 3.0), probs((3, 4))
    pw = torch.tensor(RNG.uniform(0.5, 3.0, size=(4,)))
    wr = torch.tensor(RNG.uniform(0.5, 2.0, size=(3, 1)))
    record(c, "bce_logits_weight_pos_weight_mean",
           lambda a, b: F.binary_cross_entropy_with_logits(a, b, weight=wr, pos_weight=pw),
           [logits, y], {"weight": wr, "pos_weight": pw})
    record(c, "bce_logits_none", lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
           [logits, y])

    cw = torch.tensor([0.5, 2.0, 1.25])
    x = leaf((5, 3), 2.0)
    y = torch.tensor([0, 2, 1, 2, 1])
    record(c, "ce_indices_mean", lambda a: F.cross_entropy(a, y), [x], {"classes": y})
    record(c, "ce_weight_ignore_smooth_mean",
           lambda a: F.cross_entropy(a, y, weight=cw, ignore_index=1, label_smoothing=0.2),
           [x], {"classes": y, "weight": cw})
    record(c, "ce_smooth_none", lambda a: F.cross_entropy(a, y, label_smoothing=0.1, reduction="none"),
           [x], {"classes": y})
    x3 = leaf((2, 3, 4))
    y3 = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 1]])
    record(c, "ce_rank3_weight_sum", lambda a: F.cross_entropy(a, y3, weight=cw, reduction="sum"),
           [x3], {"classes": y3, "weight": cw})
    soft = torch.softmax(torch.tensor(RNG.normal(size=(5, 3))), 1).requires_grad_(True)
    record(c, "ce_probabilities_weight_smooth_mean",
           lambda a, b: F.cross_entropy(a, b, weight=cw, label_smoothing=0.15), [x, soft], {"weight": cw})
    lp = torch.log_softmax(leaf((5, 3)), 1).detach().requires_grad_(True)
    record(c, "nll_weight_ignore_mean", lambda a: F.nll_loss(a, y, weight=cw, ignore_index=2),
           [lp], {"classes": y, "weight": cw})

    q = torch.log_softmax(leaf((4, 5)), 1).detach().requires_grad_(True)
    pt = torch.softmax(torch.tensor(RNG.normal(size=(4, 5))), 1)
    pt[0, 1] = 0.0
    pt = pt.requires_grad_(True)
    record(c, "kl_batchmean", lambda a, b: F.kl_div(a, b, reduction="batchmean"), [q, pt])
    lt = torch.log_softmax(leaf((4, 5)), 1).detach().requires_grad_(True)
    record(c, "kl_log_target_sum", lambda a, b: F.kl_div(a, b, reduction="sum", log_target=True), [q, lt])

    # f32 logits of ±1e4: the results must stay finite and match.
    big = torch.tensor([[1e4, -1e4, 0.0], [-1e4, 1e4, 1e4], [0.0, 0.0, -1e4]], dtype=torch.float32,
                       requires_grad=True)
    yb = torch.tensor([1, 0, 2])
    record(c, "f32_ce_large_logits", lambda a: F.cross_entropy(a, yb), [big], {"classes": yb})
    tb = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.5]], dtype=torch.float32)
    record(c, "f32_bce_logits_large", lambda a, b: F.binary_cross_entropy_with_logits(a, b), [big, tb])
    return c


def module_case(module, inputs, outputs_fn):
    """Records a module's parameters (by state_dict name), inputs, outputs and the gradients
    of sum_k <output_k, cotangent_k> with respect to parameters and inputs."""
    outs = outputs_fn(module, *inputs)
    cots = [torch.tensor(RNG.normal(size=tuple(o.shape))) for o in outs]
    total = sum((o * r).sum() for o, r in zip(outs, cots))
    params = dict(module.named_parameters())
    wrt = list(params.values()) + [x for x in inputs if x.requires_grad]
    grads = torch.autograd.grad(total, wrt)
    case = {f"param.{k}": enc(v) for k, v in params.items()}
    case.update({f"grad.{k}": enc(g) for k, g in zip(params, grads)})
    gi = iter(grads[len(params):])
    for i, x in enumerate(inputs):
        case[f"input{i}"] = enc(x)
        if x.requires_grad:
            case[f"grad.input{i}"] = enc(next(gi))
    for i, (o, r) in enumerate(zip(outs, cots)):
        case[f"output{i}"] = enc(o)
        case[f"cotangent{i}"] = enc(r)
    return case


def sequences():
    c = {}
    lstm = torch.nn.LSTM(3, 4, num_layers=2)
    x, h0, c0 = leaf((5, 2, 3)), leaf((2, 2, 4)), leaf((2, 2, 4))
    c["lstm_2layers_state"] = module_case(
        lstm, [x, h0, c0], lambda m, x, h, cc: (lambda o: [o[0], o[1][0], o[1][1]])(m(x, (h, cc))))
    gru = torch.nn.GRU(3, 4, num_layers=2, batch_first=True)
    xb = leaf((2, 5, 3))
    c["gru_2layers_batch_first"] = module_case(gru, [xb], lambda m, x: list(m(x)))
    rnn = torch.nn.RNN(3, 4, num_layers=2, nonlinearity="relu", bias=False)
    h0r = leaf((2, 2, 4))
    c["rnn_relu_2layers_no_bias"] = module_case(rnn, [x, h0r], lambda m, x, h: list(m(x, h)))
    rnn_t = torch.nn.RNN(3, 4)
    c["rnn_tanh_1layer"] = module_case(rnn_t, [x], lambda m, x: list(m(x)))
    return c


def attention():
    c = {}
    mha = torch.nn.MultiheadAttention(8, 2)
    with torch.no_grad():
        mha.in_proj_bias.normal_()
        mha.out_proj.bias.normal_()
    q, k, v = leaf((4, 2, 8)), leaf((5, 2, 8)), leaf((5, 2, 8))
    padding = torch.tensor([[False, False, False, True, True], [False, False, False, False, True]])
    causal = torch.triu(torch.ones(4, 5, dtype=torch.bool), diagonal=1)
    c["mha_cross_padding_causal"] = module_case(
        mha, [q, k, v],
        lambda m, q, k, v: list(m(q, k, v, key_padding_mask=padding, attn_mask=causal)))
    c["mha_cross_padding_causal"]["key_padding_mask"] = enc(padding)
    c["mha_cross_padding_causal"]["attn_mask"] = enc(causal)

    mha_b = torch.nn.MultiheadAttention(6, 3, batch_first=True)
    x = leaf((2, 4, 6))
    additive = torch.tensor(RNG.normal(size=(2 * 3, 4, 4)))
    c["mha_self_batch_first_additive_per_head"] = module_case(
        mha_b, [x],
        lambda m, x: list(m(x, x, x, attn_mask=additive, average_attn_weights=False)))
    c["mha_self_batch_first_additive_per_head"]["attn_mask"] = enc(additive)

    post = torch.nn.TransformerEncoderLayer(8, 2, 16).eval()
    src = leaf((5, 2, 8))
    pad = torch.tensor([[False] * 5, [False, False, False, True, True]])
    c["encoder_post_norm_relu_padding"] = module_case(
        post, [src], lambda m, x: [m(x, src_key_padding_mask=pad)])
    c["encoder_post_norm_relu_padding"]["key_padding_mask"] = enc(pad)

    pre = torch.nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", norm_first=True,
                                           batch_first=True).eval()
    with torch.no_grad():
        for n in (pre.norm1, pre.norm2):
            n.weight.normal_()
            n.bias.normal_()
    srcb = leaf((2, 5, 8))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5)
    c["encoder_pre_norm_gelu_causal"] = module_case(pre, [srcb], lambda m, x: [m(x, src_mask=mask)])
    return c


def write(name, cases):
    OUT.mkdir(parents=True, exist_ok=True)
    doc = {"generator": "tools/oracle/nn_oracle.py", "torch": torch.__version__.split("+")[0],
           "cases": cases}
    (OUT / name).write_text(json.dumps(doc, separators=(",", ":"), allow_nan=False) + "\n")


if __name__ == "__main__":
    write("loss.json", losses())
    write("seq.json", sequences())
    write("attention.json", attention())
