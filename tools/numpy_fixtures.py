"""Generates tests/fixtures/tensor_ops.json: engram-tensor's ops computed by NumPy/SciPy.

Each case lists its inputs (a contiguous base array plus view transforms that make it
non-contiguous), the op's parameters and NumPy's result. `tests/tensor_fixtures.rs`
rebuilds the same inputs with Engram's views, runs the op and compares. Run from the repo
root: `python3 tools/numpy_fixtures.py`.
"""

import json
import math
import pathlib

import numpy as np
from scipy.special import erf

RNG = np.random.default_rng(20261123)
CASES = []


def make_input(shape, view=(), domain="real", dtype="f64", kind="float"):
    """A random base array, the view transforms to apply, and the resulting NumPy view."""
    if kind == "index":
        raise ValueError("use index_input")
    if domain == "positive":
        base = RNG.uniform(0.5, 2.0, size=shape)
    elif domain == "unit":
        base = RNG.uniform(-0.9, 0.9, size=shape)
    else:
        base = RNG.normal(size=shape)
    if dtype == "f32":
        base = base.astype(np.float32)
    arr = base
    for t in view:
        arr = apply_view(arr, t)
    spec = {"data": [float(v) for v in base.ravel()], "shape": list(shape), "view": [list(t) for t in view]}
    return spec, arr


def apply_view(arr, t):
    if t[0] == "transpose":
        return np.swapaxes(arr, t[1], t[2])
    if t[0] == "slice":
        _, axis, start, end, step = t
        index = [slice(None)] * arr.ndim
        index[axis] = slice(start, end, step)
        return arr[tuple(index)]
    raise ValueError(t)


def out_spec(value):
    value = np.asarray(value)
    if value.dtype == bool:
        data = [bool(v) for v in value.ravel()]
    elif np.issubdtype(value.dtype, np.integer):
        data = [int(v) for v in value.ravel()]
    else:
        data = [float(v) for v in value.ravel()]
    return {"data": data, "shape": list(value.shape)}


def case(name, op, inputs, params, output, dtype="f64", index_inputs=None):
    CASES.append(
        {
            "name": name,
            "op": op,
            "dtype": dtype,
            "inputs": inputs,
            "index_inputs": index_inputs or [],
            "params": params,
            "output": out_spec(output),
        }
    )


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


UNARY = {
    "neg": (lambda x: -x, "real"),
    "exp": (np.exp, "real"),
    "ln": (np.log, "positive"),
    "log1p": (np.log1p, "positive"),
    "expm1": (np.expm1, "real"),
    "sqrt": (np.sqrt, "positive"),
    "recip": (lambda x: 1.0 / x, "positive"),
    "square": (np.square, "real"),
    "abs": (np.abs, "real"),
    "sign": (np.sign, "real"),
    "sin": (np.sin, "real"),
    "cos": (np.cos, "real"),
    "tanh": (np.tanh, "real"),
    "sigmoid": (sigmoid, "real"),
    "relu": (lambda x: np.maximum(x, 0), "real"),
    "gelu": (lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2))), "real"),
    "gelu_tanh": (lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))), "real"),
    "silu": (lambda x: x * sigmoid(x), "real"),
    "softplus": (lambda x: np.logaddexp(0, x), "real"),
}

SHAPE_CASES = [
    ("contiguous", (3, 4), ()),
    ("transposed", (4, 3), (("transpose", 0, 1),)),
    ("strided", (3, 8), (("slice", 1, 1, 8, 3),)),
    ("size1", (1, 5), ()),
    ("empty", (0, 3), ()),
]


def unary_cases():
    for dtype in ("f64", "f32"):
        for op, (f, domain) in UNARY.items():
            for label, shape, view in SHAPE_CASES:
                spec, x = make_input(shape, view, domain, dtype)
                case(f"{op}/{label}/{dtype}", op, [spec], {}, f(x.astype(np.float64)), dtype)
        for label, shape, view in SHAPE_CASES[:3]:
            spec, x = make_input(shape, view, "real", dtype)
            x = x.astype(np.float64)
            case(f"leaky_relu/{label}/{dtype}", "leaky_relu", [spec], {"slope": 0.1}, np.where(x > 0, x, 0.1 * x), dtype)
            case(f"elu/{label}/{dtype}", "elu", [spec], {"alpha": 1.5}, np.where(x > 0, x, 1.5 * np.expm1(x)), dtype)
            case(f"clamp/{label}/{dtype}", "clamp", [spec], {"min": -0.5, "max": 0.7}, np.clip(x, -0.5, 0.7), dtype)
            case(f"powi/{label}/{dtype}", "powi", [spec], {"n": 3}, x**3, dtype)
            spec, x = make_input(shape, view, "positive", dtype)
            case(f"powf/{label}/{dtype}", "powf", [spec], {"p": 1.7}, x.astype(np.float64) ** 1.7, dtype)


BINARY = {
    "add": (np.add, "real"),
    "sub": (np.subtract, "real"),
    "mul": (np.multiply, "real"),
    "div": (np.divide, "positive"),
    "pow": (np.power, "positive"),
    "maximum": (np.maximum, "real"),
    "minimum": (np.minimum, "real"),
    "gt": (np.greater, "real"),
    "ge": (np.greater_equal, "real"),
    "lt": (np.less, "real"),
    "le": (np.less_equal, "real"),
    "equal": (np.equal, "real"),
    "not_equal": (np.not_equal, "real"),
}

BROADCAST_CASES = [
    ("same", (2, 3), (), (2, 3), ()),
    ("row", (4, 3), (), (3,), ()),
    ("outer", (4, 1), (), (1, 5), ()),
    ("scalar", (2, 3), (), (), ()),
    ("transposed", (3, 2), (("transpose", 0, 1),), (2, 3), ()),
    ("strided_rank3", (2, 3, 6), (("slice", 2, 0, 6, 2),), (3, 1), ()),
    ("empty", (0, 3), (), (1, 3), ()),
]


def binary_cases():
    for dtype in ("f64", "f32"):
        for op, (f, domain) in BINARY.items():
            for label, sa, va, sb, vb in BROADCAST_CASES:
                spec_a, a = make_input(sa, va, domain, dtype)
                spec_b, b = make_input(sb, vb, domain, dtype)
                if op in ("equal", "not_equal", "ge", "le"):
                    # make some elements equal so the comparison is exercised both ways
                    spec_b, b = spec_a, a
                case(f"{op}/{label}/{dtype}", op, [spec_a, spec_b], {}, f(a.astype(np.float64), b.astype(np.float64)), dtype)
    spec_c, c = make_input((4, 1), ())
    spec_a, a = make_input((1, 3), ())
    spec_b, b = make_input((4, 3), (("transpose", 0, 1),) and ())
    case("where/broadcast/f64", "where_cond", [spec_c, spec_a, spec_b], {}, np.where(c > 0, a, b))


REDUCTIONS = {
    "sum": lambda x, ax, kd: np.sum(x, axis=ax, keepdims=kd),
    "mean": lambda x, ax, kd: np.mean(x, axis=ax, keepdims=kd),
    "prod": lambda x, ax, kd: np.prod(x, axis=ax, keepdims=kd),
    "max": lambda x, ax, kd: np.max(x, axis=ax, keepdims=kd),
    "min": lambda x, ax, kd: np.min(x, axis=ax, keepdims=kd),
    "logsumexp": lambda x, ax, kd: np.log(np.sum(np.exp(x), axis=ax, keepdims=kd)),
}


def reduction_cases():
    layouts = [
        ("contiguous", (2, 3, 4), ()),
        ("transposed", (4, 3, 2), (("transpose", 0, 2),)),
        ("strided", (2, 3, 8), (("slice", 2, 1, 8, 2),)),
    ]
    for dtype in ("f64", "f32"):
        for op, f in REDUCTIONS.items():
            for label, shape, view in layouts:
                for axes in (None, [0], [-1], [0, 2], [1]):
                    for keepdim in (False, True):
                        if axes is None and keepdim:
                            continue
                        spec, x = make_input(shape, view, "real", dtype)
                        ax = None if axes is None else tuple(axes)
                        name = f"{op}/{label}/{'all' if axes is None else axes}/{'keep' if keepdim else 'drop'}/{dtype}"
                        case(name, op, [spec], {"axes": axes, "keepdim": keepdim}, f(x.astype(np.float64), ax, keepdim), dtype)
            spec, x = make_input((1, 4), ())
        for label, shape, view in layouts:
            for axes in (None, [1], [0, 2]):
                for correction in (0, 1):
                    spec, x = make_input(shape, view, "real", dtype)
                    ax = None if axes is None else tuple(axes)
                    case(
                        f"var/{label}/{axes}/c{correction}/{dtype}",
                        "var",
                        [spec],
                        {"axes": axes, "correction": correction, "keepdim": axes is not None},
                        np.var(x.astype(np.float64), axis=ax, ddof=correction, keepdims=axes is not None),
                        dtype,
                    )
            for axis in (0, 1, -1):
                for op, f in (("argmax", np.argmax), ("argmin", np.argmin)):
                    spec, x = make_input(shape, view, "real", dtype)
                    case(f"{op}/{label}/{axis}/{dtype}", op, [spec], {"axis": axis, "keepdim": False}, f(x, axis=axis), dtype)
    spec, x = make_input((0, 3), ())
    case("sum/empty/[0]/drop/f64", "sum", [spec], {"axes": [0], "keepdim": False}, np.sum(x, axis=0))


def matmul_cases():
    shapes = [
        ("vec_vec", (5,), (), (5,), ()),
        ("mat_vec", (3, 5), (), (5,), ()),
        ("vec_mat", (5,), (), (5, 4), ()),
        ("mat_mat", (3, 5), (), (5, 4), ()),
        ("lhs_transposed", (5, 3), (("transpose", 0, 1),), (5, 4), ()),
        ("both_transposed", (5, 3), (("transpose", 0, 1),), (4, 5), (("transpose", 0, 1),)),
        ("batched", (2, 3, 5), (), (2, 5, 4), ()),
        ("batch_broadcast", (2, 1, 3, 5), (), (3, 5, 4), ()),
        ("rhs_shared", (4, 3, 5), (), (5, 2), ()),
        ("strided", (3, 10), (("slice", 1, 0, 10, 2),), (5, 4), ()),
        ("large", (70, 90), (), (90, 80), ()),
    ]
    for dtype in ("f64", "f32"):
        for label, sa, va, sb, vb in shapes:
            spec_a, a = make_input(sa, va, dtype=dtype)
            spec_b, b = make_input(sb, vb, dtype=dtype)
            case(f"matmul/{label}/{dtype}", "matmul", [spec_a, spec_b], {}, np.matmul(a.astype(np.float64), b.astype(np.float64)), dtype)


def conv2d_ref(x, w, stride, padding, dilation, groups):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0], padding[0]), (padding[1], padding[1])))
    ho = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (wd + 2 * padding[1] - dilation[1] * (kw - 1) - 1) // stride[1] + 1
    out = np.zeros((n, o, ho, wo))
    og = o // groups
    for g in range(groups):
        xs = xp[:, g * cg : (g + 1) * cg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[
                    :,
                    :,
                    i * dilation[0] : i * dilation[0] + stride[0] * (ho - 1) + 1 : stride[0],
                    j * dilation[1] : j * dilation[1] + stride[1] * (wo - 1) + 1 : stride[1],
                ]
                out[:, g * og : (g + 1) * og] += np.einsum("nchw,oc->nohw", patch, w[g * og : (g + 1) * og, :, i, j])
    return out


def pool_windows(x, kernel, stride, padding, fill):
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=fill)
    ho = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
    wo = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
    win = np.empty((n, c, ho, wo, kernel[0] * kernel[1]))
    flat = np.full((ho, wo, kernel[0] * kernel[1]), -1)
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            win[..., i * kernel[1] + j] = xp[:, :, i : i + stride[0] * (ho - 1) + 1 : stride[0], j : j + stride[1] * (wo - 1) + 1 : stride[1]]
            for oy in range(ho):
                for ox in range(wo):
                    iy, ix = oy * stride[0] + i - padding[0], ox * stride[1] + j - padding[1]
                    if 0 <= iy < h and 0 <= ix < w:
                        flat[oy, ox, i * kernel[1] + j] = iy * w + ix
    return win, flat


def conv_cases():
    configs = [
        ("plain", (2, 3, 6, 5), (4, 3, 3, 3), [1, 1], [0, 0], [1, 1], 1),
        ("stride_pad", (1, 2, 7, 7), (3, 2, 3, 3), [2, 2], [1, 1], [1, 1], 1),
        ("dilated_rect", (2, 2, 8, 6), (2, 2, 2, 3), [1, 2], [2, 1], [2, 1], 1),
        ("groups", (1, 4, 5, 5), (6, 2, 3, 3), [1, 1], [1, 1], [1, 1], 2),
        ("depthwise", (2, 3, 4, 4), (3, 1, 2, 2), [1, 1], [0, 0], [1, 1], 3),
        ("one_by_one", (1, 5, 1, 4), (2, 5, 1, 1), [1, 1], [0, 0], [1, 1], 1),
    ]
    for dtype in ("f64", "f32"):
        for label, xs, ws, s, p, d, g in configs:
            spec_x, x = make_input(xs, dtype=dtype)
            spec_w, w = make_input(ws, dtype=dtype)
            params = {"stride": s, "padding": p, "dilation": d, "groups": g}
            case(f"conv2d/{label}/{dtype}", "conv2d", [spec_x, spec_w], params, conv2d_ref(x.astype(np.float64), w.astype(np.float64), s, p, d, g), dtype)
    spec_x, x = make_input((2, 4, 9), (("slice", 2, 0, 9, 1),))
    spec_w, w = make_input((2, 2, 3))
    out = conv2d_ref(x[:, :, None, :], w[:, :, None, :], [1, 2], [0, 1], [1, 2], 2)[:, :, 0, :]
    case("conv1d/stride_pad_dilation_groups/f64", "conv1d", [spec_x, spec_w], {"stride": 2, "padding": 1, "dilation": 2, "groups": 2}, out)
    spec_x, x = make_input((6, 2, 9), (("transpose", 0, 1),))
    spec_w, w = make_input((3, 6, 2))
    case("conv1d/transposed_input/f64", "conv1d", [spec_x, spec_w], {"stride": 1, "padding": 0, "dilation": 1, "groups": 1}, conv2d_ref(x[:, :, None, :], w[:, :, None, :], [1, 1], [0, 0], [1, 1], 1)[:, :, 0, :])
    pools = [
        ("k2s2", (2, 3, 6, 6), [2, 2], [2, 2], [0, 0]),
        ("k3s2p1", (1, 2, 7, 5), [3, 3], [2, 2], [1, 1]),
        ("rect", (1, 1, 5, 8), [2, 3], [1, 2], [1, 1]),
    ]
    for label, xs, k, s, p in pools:
        spec_x, x = make_input(xs)
        win, flat = pool_windows(x, k, s, p, -np.inf)
        arg = np.argmax(win, axis=-1)
        params = {"kernel": k, "stride": s, "padding": p}
        case(f"max_pool2d/{label}/f64", "max_pool2d", [spec_x], params, win.max(axis=-1))
        case(f"max_pool2d_indices/{label}/f64", "max_pool2d_indices", [spec_x], params, np.take_along_axis(np.broadcast_to(flat, win.shape), arg[..., None], -1)[..., 0])
        win0, _ = pool_windows(x, k, s, p, 0.0)
        case(f"avg_pool2d/{label}/f64", "avg_pool2d", [spec_x], params, win0.mean(axis=-1))
        if any(p):
            winn, _ = pool_windows(x, k, s, p, np.nan)
            exclude = {**params, "count_include_pad": False}
            case(f"avg_pool2d/{label}_exclude_pad/f64", "avg_pool2d", [spec_x], exclude, np.nanmean(winn, axis=-1))


def max_pool_gradient_cases():
    """The input gradient of max pooling: each window's output gradient added at its first
    maximum (NumPy's argmax, as PyTorch's CPU kernel on ties). Inputs rounded to halves so
    that windows tie; generated last, so that adding them drew no earlier case anew."""
    pools = [
        ("k2s2_odd", (2, 3, 5, 7), [2, 2], [2, 2], [0, 0], ()),
        ("k2s2_transposed", (1, 2, 7, 6), [2, 2], [2, 2], [0, 0], (("transpose", 2, 3),)),
        ("k3s2p1_overlap", (1, 2, 7, 5), [3, 3], [2, 2], [1, 1], ()),
        ("k2s1_overlap", (2, 1, 4, 5), [2, 2], [1, 1], [0, 0], ()),
    ]
    for dtype in ("f64", "f32"):
        for label, xs, k, s, p, view in pools:
            spec_x, x = make_input(xs, view, dtype=dtype)
            x = np.round(x * 2) / 2
            spec_x["data"] = [float(v) for v in np.round(np.asarray(spec_x["data"]) * 2) / 2]
            win, flat = pool_windows(x.astype(np.float64), k, s, p, -np.inf)
            spec_g, g = make_input(win.shape[:4], dtype=dtype)
            winners = np.take_along_axis(np.broadcast_to(flat, win.shape), np.argmax(win, axis=-1)[..., None], -1)[..., 0]
            n, c, h, w = x.shape
            grad = np.zeros((n * c, h * w))
            for plane in range(n * c):
                np.add.at(grad[plane], winners.reshape(n * c, -1)[plane], g.astype(np.float64).reshape(n * c, -1)[plane])
            params = {"kernel": k, "stride": s, "padding": p}
            case(f"max_pool2d_input_grad/{label}/{dtype}", "max_pool2d_input_grad", [spec_x, spec_g], params, grad.reshape(x.shape), dtype)


def index_cases():
    spec, x = make_input((3, 4))
    idx = RNG.integers(0, 4, size=(3, 5))
    case("gather/axis1/f64", "gather", [spec], {"axis": 1}, np.take_along_axis(x, idx, 1), index_inputs=[out_spec(idx)])
    spec, x = make_input((4, 3), (("transpose", 0, 1),))
    idx = RNG.integers(0, 3, size=(2, 4))
    case("gather/axis0_transposed/f64", "gather", [spec], {"axis": 0}, np.take_along_axis(x, idx, 0), index_inputs=[out_spec(idx)])
    spec_b, base = make_input((3, 4))
    spec_s, src = make_input((3, 6))
    idx = RNG.integers(0, 4, size=(3, 6))
    expected = base.copy()
    for i in range(3):
        for j in range(6):
            expected[i, idx[i, j]] += src[i, j]
    case("scatter_add/axis1/f64", "scatter_add", [spec_b, spec_s], {"axis": 1}, expected, index_inputs=[out_spec(idx)])
    spec, x = make_input((5, 3, 2), (("transpose", 1, 2),))
    sel = [4, 0, 4, 2]
    case("index_select/axis0/f64", "index_select", [spec], {"axis": 0, "indices": sel}, x[sel])
    case("index_select/axis-1/f64", "index_select", [spec], {"axis": -1, "indices": [2, 1]}, x[:, :, [2, 1]])
    spec_b, base = make_input((5, 2))
    spec_s, src = make_input((4, 2))
    expected = base.copy()
    np.add.at(expected, sel, src)
    case("index_add/axis0/f64", "index_add", [spec_b, spec_s], {"axis": 0, "indices": sel}, expected)
    idx = RNG.integers(0, 4, size=(2, 3))
    case("one_hot/rank2/f64", "one_hot", [], {"classes": 4}, np.eye(4)[idx], index_inputs=[out_spec(idx)])


def join_cases():
    spec_a, a = make_input((2, 3))
    spec_b, b = make_input((4, 2), (("transpose", 0, 1),))
    case("concat/axis1/f64", "concat", [spec_a, spec_b], {"axis": 1}, np.concatenate([a, b], 1))
    spec_c, c = make_input((3, 3), (("slice", 0, 0, 3, 2),))
    case("concat/axis0/f64", "concat", [spec_a, spec_c], {"axis": 0}, np.concatenate([a, c], 0))
    spec_d, d = make_input((3, 2), (("transpose", 0, 1),))
    case("stack/axis1/f64", "stack", [spec_a, spec_d], {"axis": 1}, np.stack([a, d], 1))
    spec, x = make_input((3, 4), (("transpose", 0, 1),))
    case("pad/rank2/f64", "pad", [spec], {"widths": [[1, 2], [0, 1]], "value": -3.0}, np.pad(x, ((1, 2), (0, 1)), constant_values=-3.0))


def softmax_cases():
    for dtype in ("f64", "f32"):
        for label, shape, view in [("contiguous", (3, 5), ()), ("transposed", (5, 3), (("transpose", 0, 1),))]:
            for axis in (0, -1):
                spec, x = make_input(shape, view, dtype=dtype)
                x64 = x.astype(np.float64) * 10
                spec["data"] = [v * 10 for v in spec["data"]]
                e = np.exp(x64 - x64.max(axis=axis, keepdims=True))
                sm = e / e.sum(axis=axis, keepdims=True)
                case(f"softmax/{label}/{axis}/{dtype}", "softmax", [spec], {"axis": axis}, sm, dtype)
                case(f"log_softmax/{label}/{axis}/{dtype}", "log_softmax", [spec], {"axis": axis}, np.log(sm), dtype)


def mask_cases():
    spec, x = make_input((3, 4), (("transpose", 0, 1),))
    for op, f in [("gt", np.greater), ("ge", np.greater_equal), ("lt", np.less), ("le", np.less_equal)]:
        case(f"{op}_scalar/transposed/f64", f"{op}_scalar", [spec], {"scalar": 0.25}, f(x, 0.25))
    spec_x, x = make_input((2, 3, 5))
    spec_m, m = make_input((5, 3), (("transpose", 0, 1),))
    case("masked_fill/broadcast/f64", "masked_fill", [spec_x, spec_m], {"value": -7.5}, np.where(m > 0, -7.5, x))
    spec_t, t = make_input((5, 4), (("transpose", 0, 1),))
    for k in (-1, 0, 2):
        case(f"tril/{k}/f64", "tril", [spec_x], {"k": k}, np.tril(x, k))
        case(f"triu/{k}/f64", "triu", [spec_x], {"k": k}, np.triu(x, k))
        case(f"tril/transposed/{k}/f64", "tril", [spec_t], {"k": k}, np.tril(t, k))


def slicing_cases():
    spec, x = make_input((3, 4, 5), (("transpose", 1, 2),))  # shape (3, 5, 4)
    case("select/axis1/f64", "select", [spec], {"axis": 1, "index": 2}, x[:, 2])
    case("select/negative/f64", "select", [spec], {"axis": -1, "index": -1}, x[..., -1])
    # Each entry: an integer position, or [start, end, step] with null for an open end.
    for label, spec_items, expected in [
        ("row_prefix", [1, [None, None, 1], [None, 2, 1]], x[1, :, :2]),
        ("negative_start_and_step", [[-2, None, 1], [1, None, 2], -1], x[-2:, 1::2, -1]),
        ("clamped", [[None, 100, 1], [-100, 3, 1]], x[:100, -100:3]),
    ]:
        case(f"index/{label}/f64", "index", [spec], {"spec": spec_items}, expected)


def main():
    unary_cases()
    binary_cases()
    reduction_cases()
    matmul_cases()
    conv_cases()
    index_cases()
    join_cases()
    softmax_cases()
    mask_cases()
    slicing_cases()
    max_pool_gradient_cases()
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "tensor_ops.json"
    doc = {"generator": "tools/numpy_fixtures.py", "numpy": np.__version__, "cases": CASES}
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {len(CASES)} cases to {path}")


if __name__ == "__main__":
    main()
