"""JAX's side of tools/compare/run: the workloads of Engram's benches/workloads/ as a JAX
user writes them (each training step one jit-compiled function with its parameters
donated, so XLA updates them in place; layers from jax.lax and jax.nn, since neither flax
nor optax is a dependency), served over the protocol of serve.py.

It has no tape figure: JAX's nearest equivalent, jax.grad run eagerly without jit, took
about 2 ms per scalar op here (20 s for the 10,002-op chain, each repetition), which is
not how JAX is used and would take most of the comparison's time."""

import os

from serve import serve, threads

if threads() == 1:
    # XLA's CPU client otherwise starts a thread per core (tools/compare/run also pins the
    # process to one core).
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()

import jax  # noqa: E402 (XLA_FLAGS must be set first)
import jax.numpy as jnp  # noqa: E402
import jax.scipy.special  # noqa: E402,F401 (jax.scipy.special.erf)
from jax import lax  # noqa: E402

jax.config.update("jax_platforms", "cpu")

LEARNING_RATE = 0.01


def uniform(key, shape, fan_in):
    bound = fan_in**-0.5
    return jax.random.uniform(key, shape, jnp.float32, -bound, bound)


def dense(key, fan_in, fan_out):
    k1, k2 = jax.random.split(key)
    return {"w": uniform(k1, (fan_in, fan_out), fan_in), "b": uniform(k2, (fan_out,), fan_in)}


def cross_entropy(logits, labels):
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.take_along_axis(log_probs, labels[:, None], axis=1).mean()


def mlp(params, x):
    for i, layer in enumerate(params):
        x = x @ layer["w"] + layer["b"]
        if i < 2:
            x = jax.nn.relu(x)
    return x


def conv(layer, x):
    y = lax.conv_general_dilated(x, layer["w"], (1, 1), "SAME", dimension_numbers=("NCHW", "OIHW", "NCHW"))
    return y + layer["b"][None, :, None, None]


def max_pool2(x):
    return lax.reduce_window(x, -jnp.inf, lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")


def cnn(params, x):
    x = max_pool2(jax.nn.relu(conv(params["conv1"], x)))
    x = max_pool2(jax.nn.relu(conv(params["conv2"], x)))
    x = x.reshape(x.shape[0], -1)
    return x @ params["fc"]["w"] + params["fc"]["b"]


def lstm(params, x):
    """nn.LSTM's cell (gates i, f, g, o) scanned over time; the last h → linear head."""
    cell = params["lstm"]
    hidden = cell["w_hh"].shape[0]

    def step(state, x_t):
        h, c = state
        gates = x_t @ cell["w_ih"] + cell["b_ih"] + h @ cell["w_hh"] + cell["b_hh"]
        i, f, g, o = jnp.split(gates, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), None

    zeros = jnp.zeros((x.shape[1], hidden), jnp.float32)
    (h, _), _ = lax.scan(step, (zeros, zeros), x)
    return h @ params["fc"]["w"] + params["fc"]["b"]


def conv_layer(key, c_in, c_out):
    k1, k2 = jax.random.split(key)
    fan_in = c_in * 9
    return {"w": uniform(k1, (c_out, c_in, 3, 3), fan_in), "b": uniform(k2, (c_out,), fan_in)}


def step_figure(forward, params, x, batch):
    """One jit-compiled SGD step of `forward` with labels (7 i) mod 10, as every tool's."""
    labels = jnp.arange(batch) * 7 % 10

    def loss(params):
        return cross_entropy(forward(params, x), labels)

    def step(params):
        value, grads = jax.value_and_grad(loss)(params)
        return jax.tree.map(lambda p, g: p - LEARNING_RATE * g, params, grads), value

    step = jax.jit(step, donate_argnums=0)
    state = {"params": params}

    def run():
        state["params"], value = step(state["params"])
        jax.block_until_ready((state["params"], value))

    return run, 1.0


ELEMENTWISE_LEN = 1 << 24  # 16M elements, as Engram's transcendental figures
ELEMENTWISE = {"copy": jnp.copy, "exp": jnp.exp, "ln": jnp.log, "tanh": jnp.tanh, "sigmoid": jax.nn.sigmoid, "erf": jax.scipy.special.erf}


def elementwise_figure(name):
    """`exp_f32` and the like, jit-compiled, on 16M elements; work in bytes moved. f32 only:
    f64 needs JAX's x64 mode, which would change every other figure's defaults."""
    function, _, dtype = name.rpartition("_")
    if function not in ELEMENTWISE or dtype != "f32":
        return None
    low = 0.01 if function == "ln" else -4.0
    x = jax.random.uniform(jax.random.PRNGKey(0), (ELEMENTWISE_LEN,), jnp.float32, low, 4.0)
    f = jax.jit(ELEMENTWISE[function])
    return (lambda: f(x).block_until_ready()), 2.0 * x.size * x.dtype.itemsize


def make(name):
    keys = jax.random.split(jax.random.PRNGKey(0), 4)
    if name.endswith(("_f32", "_f64")):
        return elementwise_figure(name)
    if name.startswith("sgemm_"):
        n = int(name.removeprefix("sgemm_"))
        a = jax.random.normal(keys[0], (n, n), jnp.float32)
        b = jax.random.normal(keys[1], (n, n), jnp.float32)
        matmul = jax.jit(jnp.matmul)
        return (lambda: matmul(a, b).block_until_ready()), 2.0 * n**3
    if name == "mlp_step":
        params = [dense(keys[0], 784, 512), dense(keys[1], 512, 512), dense(keys[2], 512, 10)]
        return step_figure(mlp, params, jax.random.normal(keys[3], (128, 784), jnp.float32), 128)
    if name == "cnn_step":
        params = {"conv1": conv_layer(keys[0], 1, 16), "conv2": conv_layer(keys[1], 16, 32), "fc": dense(keys[2], 32 * 7 * 7, 10)}
        return step_figure(cnn, params, jax.random.normal(keys[3], (64, 1, 28, 28), jnp.float32), 64)
    if name == "lstm_step":
        k = jax.random.split(keys[0], 4)
        cell = {
            "w_ih": uniform(k[0], (64, 512), 128), "w_hh": uniform(k[1], (128, 512), 128),
            "b_ih": uniform(k[2], (512,), 128), "b_hh": uniform(k[3], (512,), 128),
        }
        params = {"lstm": cell, "fc": dense(keys[1], 128, 10)}
        return step_figure(lstm, params, jax.random.normal(keys[3], (32, 32, 64), jnp.float32), 32)
    return None


def main():
    serve({"tool": "jax", "version": jax.__version__, "threads": threads()}, make)


if __name__ == "__main__":
    main()
