"""Independent oracle: JAX computes values, gradients and Hessian-vector products for
named cases with fixed inputs; Engram's `tests/oracle.rs` must agree in f64.

For each case f with inputs x and output y = f(x), the fixture holds, with a fixed
cotangent r (y's shape) and directions v (one per input):
  value = f(x),  grads = ∇_x ⟨f(x), r⟩,  hvp = ∇_x ⟨∇_x ⟨f(x), r⟩, v⟩.
Case names `op/label` are those of Engram's gradcheck registry (the Rust test takes the
function from there); `composite/*` cases are defined in both places independently.

    python3 -m pip install -r tools/oracle/requirements.txt
    python3 tools/oracle/oracle.py
"""

import json
import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_platforms", "cpu")

RNG = np.random.default_rng(7)
CASES = {}


def draw(shape, domain):
    if domain == "pos":
        return RNG.uniform(0.5, 2.0, size=shape)
    if domain == "apart":
        return RNG.uniform(0.2, 2.0, size=shape) * RNG.choice([-1.0, 1.0], size=shape)
    if domain == "zeros":  # as the registry's `with_zeros`: every third element exactly 0
        a = RNG.normal(size=shape)
        a.reshape(-1)[::3] = 0.0
        return a
    return RNG.normal(size=shape)


def case(name, shapes, domains=None):
    domains = domains or ["real"] * len(shapes)

    def register(fn):
        CASES[name] = (fn, [tuple(s) for s in shapes], domains)
        return fn

    return register


def unary(name, fn, domain="real", shape=(3, 4)):
    CASES[f"{name}/matrix"] = (lambda x: fn(x), [shape], [domain])


for name, fn, dom in [
    ("neg", lambda x: -x, "real"),
    ("exp", jnp.exp, "real"),
    ("ln", jnp.log, "pos"),
    ("log1p", jnp.log1p, "pos"),
    ("expm1", jnp.expm1, "real"),
    ("sqrt", jnp.sqrt, "pos"),
    ("recip", lambda x: 1.0 / x, "pos"),
    ("square", jnp.square, "real"),
    ("abs", jnp.abs, "apart"),
    ("sin", jnp.sin, "real"),
    ("cos", jnp.cos, "real"),
    ("tanh", jnp.tanh, "real"),
    ("sigmoid", jax.nn.sigmoid, "real"),
    ("relu", jax.nn.relu, "apart"),
    ("leaky_relu", lambda x: jnp.where(x > 0, x, 0.1 * x), "apart"),
    ("elu", lambda x: jnp.where(x > 0, x, 1.3 * jnp.expm1(x)), "apart"),
    ("gelu", lambda x: jax.nn.gelu(x, approximate=False), "real"),
    ("gelu_tanh", lambda x: jax.nn.gelu(x, approximate=True), "real"),
    ("silu", jax.nn.silu, "real"),
    ("softplus", jax.nn.softplus, "real"),
    ("erf", jax.scipy.special.erf, "real"),
    ("powf", lambda x: x**2.5, "pos"),
    ("powi", lambda x: x**3, "real"),
    ("clamp", lambda x: jnp.clip(x, -1.0, 1.0), "apart"),
    ("add_scalar", lambda x: x + 2.0, "real"),
    ("mul_scalar", lambda x: x * -3.0, "real"),
    ("sign_times_x", lambda x: jnp.sign(x) * x, "apart"),
]:
    unary(name, fn, dom)

for name, fn, da, db in [
    ("add", jnp.add, "real", "real"),
    ("sub", jnp.subtract, "real", "real"),
    ("mul", jnp.multiply, "real", "real"),
    ("div", jnp.divide, "real", "pos"),
    ("pow", jnp.power, "pos", "real"),
    ("maximum", jnp.maximum, "real", "real"),
    ("minimum", jnp.minimum, "real", "real"),
]:
    CASES[f"{name}/broadcast"] = (fn, [(3, 1), (2, 1, 4)], [da, db])

MASK = np.array([True, False, True, True, False, False, True, False, True, False, True, False]).reshape(3, 4)
case("where_cond/broadcast", [(3, 1), (1, 4)])(lambda a, b: jnp.where(MASK, a**2, jnp.exp(b)))
CASES["operators/chain"] = (lambda a, b: (-((a * b + a / b - b * 2.0) - 1.0)) / 3.0, [(2, 3), (3,)], ["real", "pos"])

for name, fn, dom in [
    ("sum", jnp.sum, "real"),
    ("mean", jnp.mean, "real"),
    ("prod", jnp.prod, "pos"),
    ("max", jnp.max, "real"),
    ("min", jnp.min, "real"),
    ("logsumexp", jax.scipy.special.logsumexp, "real"),
]:
    CASES[f"{name}/all"] = (lambda x, fn=fn: fn(x), [(3, 4)], [dom])
    CASES[f"{name}/two_axes"] = (lambda x, fn=fn: fn(x, axis=(0, 2)), [(2, 3, 4)], [dom])
case("var/two_axes_keepdim", [(2, 3, 4)])(lambda x: jnp.var(x, axis=(0, 2), ddof=1, keepdims=True))
case("var/axis1_biased", [(3, 4)])(lambda x: jnp.var(x, axis=1))
case("sum_to_shape/broadcast_back", [(2, 3, 4)])(lambda x: x.sum(axis=(0, 2)).reshape(3, 1))
case("softmax/last_axis", [(3, 5)])(lambda x: jax.nn.softmax(x, axis=-1))
case("log_softmax/last_axis", [(3, 5)])(lambda x: jax.nn.log_softmax(x, axis=-1))
case("softmax/axis0_rank3", [(3, 2, 4)])(lambda x: jax.nn.softmax(x, axis=0))

case("reshape/matrix", [(3, 4)])(lambda x: jnp.square(x.reshape(2, 6)))
case("squeeze/middle", [(2, 1, 3)])(lambda x: jnp.square(x[:, 0, :]))
case("unsqueeze/last", [(2, 3)])(lambda x: jnp.square(x[:, :, None]))
case("permute/rank3", [(2, 3, 4)])(lambda x: jnp.square(jnp.transpose(x, (2, 0, 1))) * jnp.sin(jnp.transpose(x, (2, 0, 1))))
case("transpose/matrix", [(3, 4)])(lambda x: jnp.square(x.T))
case("narrow/middle", [(5, 3)])(lambda x: jnp.square(x[1:4]))
case("slice/step2", [(7, 2)])(lambda x: jnp.square(x[1:7:2]))
case("slice/step3_tail", [(2, 8)])(lambda x: jnp.square(x[:, 2:8:3]))
case("broadcast_to/size1", [(3, 1)])(lambda x: jnp.square(jnp.broadcast_to(x, (2, 3, 4))))
case("concat/axis0", [(2, 3), (1, 3)])(lambda a, b: jnp.square(jnp.concatenate([a, b], 0)))
case("stack/axis0", [(2, 3), (2, 3)])(lambda a, b: jnp.square(jnp.stack([a, b], 0)))
case("split/uneven", [(5, 2)])(lambda x: x[:2].sum(0) * x[2:].sum(0))
case("chunk/three", [(2, 7)])(lambda x: jnp.square(x[:, :3]).sum() + jnp.sin(x[:, 6:]).sum())
case("pad/both_sides", [(2, 3)])(lambda x: jnp.square(jnp.pad(x, ((1, 0), (2, 1)), constant_values=0.5)))

for label, sa, sb in [
    ("vec_vec", (4,), (4,)),
    ("mat_vec", (3, 4), (4,)),
    ("vec_mat", (4,), (4, 2)),
    ("mat_mat", (3, 4), (4, 2)),
    ("batch_broadcast", (2, 1, 3, 4), (3, 4, 2)),
    ("batch_vec", (2, 3, 4), (4,)),
]:
    CASES[f"matmul/{label}"] = (jnp.matmul, [sa, sb], ["real", "real"])
case("matmul/square_of_product", [(3, 3)])(lambda a: a @ a @ a.T)


def conv2d(x, w, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    return jax.lax.conv_general_dilated(
        x, w, window_strides=stride, padding=[(p, p) for p in padding], rhs_dilation=dilation,
        dimension_numbers=("NCHW", "OIHW", "NCHW"), feature_group_count=groups, precision=jax.lax.Precision.HIGHEST,
    )


case("conv2d/plain", [(2, 3, 5, 4), (2, 3, 3, 2)])(lambda x, w: conv2d(x, w))
case("conv2d/stride_pad", [(1, 2, 6, 5), (3, 2, 3, 3)])(lambda x, w: conv2d(x, w, (2, 2), (1, 1)))
case("conv2d/dilation_groups", [(1, 4, 6, 6), (4, 2, 2, 2)])(lambda x, w: conv2d(x, w, (1, 2), (1, 0), (2, 1), 2))
case("conv1d/stride_pad_dilation_groups", [(1, 4, 9), (2, 2, 2)])(
    lambda x, w: conv2d(x[:, :, None, :], w[:, :, None, :], (1, 2), (0, 1), (1, 2), 2)[:, :, 0, :]
)


def pool_windows(x, kernel, stride, padding, fill):
    xp = jnp.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2), constant_values=fill)
    ho = (x.shape[2] + 2 * padding[0] - kernel[0]) // stride[0] + 1
    wo = (x.shape[3] + 2 * padding[1] - kernel[1]) // stride[1] + 1
    taps = [
        xp[:, :, i : i + stride[0] * (ho - 1) + 1 : stride[0], j : j + stride[1] * (wo - 1) + 1 : stride[1]]
        for i in range(kernel[0])
        for j in range(kernel[1])
    ]
    return jnp.stack(taps, axis=2)


case("max_pool2d/k3s2p1_overlap", [(1, 2, 5, 5)])(lambda x: pool_windows(x, (3, 3), (2, 2), (1, 1), -jnp.inf).max(axis=2))
case("avg_pool2d/k3s2p1_overlap", [(1, 2, 5, 5)])(lambda x: pool_windows(x, (3, 3), (2, 2), (1, 1), 0.0).mean(axis=2))


def unfold(x, kernel, stride, padding):
    n, c = x.shape[:2]
    win = pool_windows(x, kernel, stride, padding, 0.0)  # [n, c, taps, ho, wo]
    return win.reshape(n, c * kernel[0] * kernel[1], -1)


case("unfold/stride_pad", [(1, 2, 4, 4)])(lambda x: jnp.square(unfold(x, (2, 3), (2, 1), (1, 1))))
_fold_probe = jnp.zeros((1, 2, 4, 4))
case("fold/stride_pad", [(1, 12, 12)])(
    lambda cols: jnp.square(jax.vjp(lambda x: unfold(x, (2, 3), (2, 1), (1, 1)), _fold_probe)[1](cols)[0])
)

GATHER = np.array([0, 0, 3, 2, 1, 1, 3, 0, 2]).reshape(3, 3)
case("gather/axis1_repeats", [(3, 4)])(lambda x: jnp.square(jnp.take_along_axis(x, GATHER, 1)))
SCATTER = np.array([3, 3, 0, 1, 2, 1]).reshape(2, 3)
case("scatter_add/axis1", [(2, 4), (2, 3)])(lambda base, src: jnp.square(base.at[np.arange(2)[:, None], SCATTER].add(src)))
case("index_select/rows_repeated", [(4, 3)])(lambda x: jnp.square(x[np.array([3, 0, 3])]))
case("index_add/rows", [(4, 2), (3, 2)])(lambda base, src: jnp.square(base.at[np.array([1, 3, 1])].add(src)))

# Composites: each defined again, independently, in tests/oracle.rs.
LABELS = jax.nn.one_hot(np.array([0, 2, 1, 2]), 3)


@case("composite/mlp_loss", [(4, 3), (3, 5), (5,), (5, 3), (3,)])
def mlp_loss(x, w1, b1, w2, b2):
    h = jnp.tanh(x @ w1 + b1)
    return -(jax.nn.log_softmax(h @ w2 + b2, axis=-1) * LABELS).sum() / 4


@case("composite/convnet_loss", [(2, 1, 6, 6), (3, 1, 3, 3), (3,), (27, 2)])
def convnet_loss(x, w, b, fc):
    h = jax.nn.relu(conv2d(x, w, padding=(1, 1)) + b[None, :, None, None])
    p = pool_windows(h, (2, 2), (2, 2), (0, 0), -jnp.inf).max(axis=2).reshape(2, 27)
    return -(jax.nn.log_softmax(p @ fc, axis=-1) * jax.nn.one_hot(np.array([1, 0]), 2)).sum() / 2


@case("composite/lstm_step", [(2, 3), (2, 4), (2, 4), (3, 16), (4, 16), (16,)])
def lstm_step(x, h, c, wx, wh, b):
    z = x @ wx + h @ wh + b
    i, f, g, o = z[:, 0:4], z[:, 4:8], z[:, 8:12], z[:, 12:16]
    c2 = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
    h2 = jax.nn.sigmoid(o) * jnp.tanh(c2)
    return jnp.concatenate([h2, c2], axis=1)


@case("composite/softmax_cross_entropy", [(4, 3)])
def softmax_cross_entropy(logits):
    return -(jax.nn.log_softmax(logits, axis=-1) * LABELS).sum(axis=-1).mean()


@case("composite/layer_norm", [(3, 6), (6,), (6,)])
def layer_norm(x, gamma, beta):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + 1e-5) * gamma + beta


@case("composite/attention", [(2, 3, 4), (2, 5, 4), (2, 5, 4)])
def attention(q, k, v):
    scores = q @ jnp.swapaxes(k, -1, -2) / 2.0
    return jax.nn.softmax(scores, axis=-1) @ v


# The model author's API (appended, so that the inputs drawn for the cases above stay
# the same): true scalar division, scalars on the left, tensor constants, masks,
# triangles, select and NumPy-style indexing, average pooling without padding counted.
case("div_scalar/matrix", [(3, 4)])(lambda x: x / 3.0)
case("rdiv_scalar/matrix", [(3, 4)], ["pos"])(lambda x: 2.0 / x)
case("operators/scalar_left_owned", [(2, 3)], ["pos"])(
    lambda x: 2.0 * jnp.sin(x) + (1.0 - jnp.cos(x)) - 1.0 / x + 3.0 / jnp.exp(x)
)
C3 = np.array([0.5, -1.5, 2.0])
SCALE = np.array([[1.5], [2.5]])
case("operators/tensor_constants", [(2, 3), (3,)])(
    lambda a, b: (a * C3 + b - SCALE) / C3 + SCALE * jnp.tanh(a) - C3 / jnp.exp(b)
)
BOUND = np.array([0.5, -0.5, 1.0])
case("where_cond/scalar_and_tensor_branches", [(2, 3)], ["apart"])(
    lambda x: jnp.where(x > 0, x**2, 0.25) + jnp.where(x > 0, BOUND, jnp.sin(x))
)
ABOVE3 = ~np.tril(np.ones((3, 3), dtype=bool))
ABOVE4 = ~np.tril(np.ones((4, 4), dtype=bool))
case("masked_fill/broadcast_mask", [(2, 3, 3)])(lambda x: jnp.square(jnp.where(ABOVE3, -2.0, x)))
case("masked_fill/then_softmax", [(2, 4, 4)])(lambda x: jax.nn.softmax(jnp.where(ABOVE4, -jnp.inf, x), axis=-1))
case("tril/wide_above_diagonal", [(2, 3, 5)])(lambda x: jnp.square(jnp.tril(x, 1)))
case("triu/wide_below_diagonal", [(2, 3, 5)])(lambda x: jnp.square(jnp.triu(x, -1)))
case("select/axis0", [(3, 4)])(lambda x: jnp.square(x[1]))
case("select/negative_transposed", [(4, 3)])(lambda x: jnp.exp(x[:, -1]))
case("index/row_then_prefix", [(2, 3, 4)])(lambda x: jnp.square(x[1, :, :2]))
case("index/negative_and_step", [(3, 7)])(lambda x: jnp.exp(x[-1, 1::3]))
case("index_select/tensor_of_indices", [(2, 3)])(lambda x: jnp.square(x[:, np.array([2, 2, 0])]))


def avg_pool_exclude_pad(x, kernel, stride, padding):
    sums = pool_windows(x, kernel, stride, padding, 0.0).sum(axis=2)
    counts = pool_windows(jnp.ones_like(x), kernel, stride, padding, 0.0).sum(axis=2)
    return sums / counts


case("avg_pool2d/exclude_pad_overlap", [(1, 2, 5, 5)])(lambda x: avg_pool_exclude_pad(x, (3, 3), (2, 2), (1, 1)))

CAUSAL = np.tril(np.ones((4, 4), dtype=bool))


@case("composite/causal_attention", [(2, 4, 3), (2, 4, 3), (2, 4, 3)])
def causal_attention(q, k, v):
    scores = q @ jnp.swapaxes(k, -1, -2) / jnp.sqrt(3.0)
    return jax.nn.softmax(jnp.where(CAUSAL, scores, -jnp.inf), axis=-1) @ v


# Rules at zero (appended last, so that every earlier case keeps its random draws).
case("pow/zero_base", [(2, 4)], ["zeros"])(lambda x: jnp.power(x, jnp.array([2.0, 3.0, 4.0, 2.0])))
POW_BASE = np.array([0.0, 1.5, 0.0, 0.7, 0.0, 2.0]).reshape(2, 3)
case("pow/zero_base_exponent", [(2, 3)], ["pos"])(lambda b: jnp.power(POW_BASE, b))
case("powf/at_zero", [(2, 3)], ["zeros"])(lambda x: x**3.0)
case("prod/with_zeros", [(3, 4)], ["zeros"])(lambda x: jnp.prod(x, axis=1))
case("prod/one_zero", [(1, 3)], ["zeros"])(lambda x: jnp.prod(x))
unary("sign", jnp.sign, "apart")

# The convolution's two gradients as functions of their own (Engram's conv2d_input_grad and
# conv2d_weight_grad), taken here from JAX's vjp of the convolution. Last, so that the
# inputs drawn for every earlier case stay as they were.
case("conv2d_input_grad/stride_pad", [(2, 3, 3, 3), (3, 2, 3, 2)])(
    lambda g, w: jax.vjp(lambda x: conv2d(x, w, (2, 2), (1, 1)), jnp.zeros((2, 2, 6, 5)))[1](g)[0]
)
case("conv2d_weight_grad/stride_pad", [(2, 2, 6, 5), (2, 3, 3, 3)])(
    lambda x, g: jax.vjp(lambda w: conv2d(x, w, (2, 2), (1, 1)), jnp.zeros((3, 2, 3, 2)))[1](g)[0]
)


# The fused LSTM recurrence (appended last, as above): JAX's own scan over the steps,
# returning every hidden state, then the final hidden and cell state, as the registry's
# cases of the same names do.
def lstm_recurrence(gates, h0, c0, w_hh):
    def step(carry, z_in):
        h, c = carry
        i, f, g, o = jnp.split(z_in + h @ w_hh.T, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    (h, c), hs = jax.lax.scan(step, (h0, c0), gates)
    return jnp.concatenate([hs, h[None], c[None]], axis=0)


case("lstm_recurrence/three_steps", [(3, 2, 8), (2, 2), (2, 2), (8, 2)])(lstm_recurrence)
case("lstm_recurrence/one_step_batch1", [(1, 1, 12), (1, 3), (1, 3), (12, 3)])(lstm_recurrence)

# A product plus a bias along its last axis, as one op (appended last, as above).
case("matmul_bias/mat_mat", [(3, 4), (4, 2), (2,)])(lambda x, w, b: x @ w + b)
case("matmul_bias/linear_layer", [(5, 4), (3, 4), (3,)])(lambda x, w, b: x @ w.T + b)
case("matmul_bias/vec_mat", [(4,), (4, 2), (2,)])(lambda x, w, b: x @ w + b)


def spec(a):
    a = np.asarray(a, dtype=np.float64)
    return {"data": [float(v) for v in a.ravel()], "shape": list(a.shape)}


def main():
    out = []
    for name, (fn, shapes, domains) in CASES.items():
        xs = [jnp.asarray(draw(s, d)) for s, d in zip(shapes, domains)]
        y = fn(*xs)
        r = jnp.asarray(RNG.normal(size=np.shape(y)))
        vs = [jnp.asarray(RNG.normal(size=s)) for s in shapes]
        argnums = tuple(range(len(xs)))
        projected = lambda *a: jnp.sum(fn(*a) * r)
        grads = jax.grad(projected, argnums)(*xs)
        directional = lambda *a: sum(jnp.sum(g * v) for g, v in zip(jax.grad(projected, argnums)(*a), vs))
        hvp = jax.grad(directional, argnums)(*xs)
        out.append(
            {
                "name": name,
                "inputs": [spec(x) for x in xs],
                "cotangent": spec(r),
                "directions": [spec(v) for v in vs],
                "value": spec(y),
                "grads": [spec(g) for g in grads],
                "hvp": [spec(h) for h in hvp],
            }
        )
    path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "oracle.json"
    doc = {"generator": "tools/oracle/oracle.py", "jax": jax.__version__, "cases": out}
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {len(out)} cases to {path}")


if __name__ == "__main__":
    main()
