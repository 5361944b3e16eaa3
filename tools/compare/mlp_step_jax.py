"""JAX reference for benches/autograd.rs `mlp_784_512_512_10_b128_step`: one jit-compiled
SGD step (forward, backward, update) of a 784-512-512-10 ReLU MLP with softmax
cross-entropy, batch 128, f32, on the CPU. Prints the median of many timed steps so the
figure can be set beside Engram's criterion median from the same machine and run.

    python3 tools/compare/mlp_step_jax.py
"""

import statistics
import time

import jax
import jax.numpy as jnp

jax.config.update("jax_platforms", "cpu")


def init(key):
    params = []
    for fan_in, fan_out in [(784, 512), (512, 512), (512, 10)]:
        key, sub = jax.random.split(key)
        bound = (6.0 / fan_in) ** 0.5
        params.append((jax.random.uniform(sub, (fan_in, fan_out), jnp.float32, -bound, bound), jnp.zeros((fan_out,), jnp.float32)))
    return params


def loss(params, x, targets):
    h = x
    for i, (w, b) in enumerate(params):
        h = h @ w + b
        if i < 2:
            h = jax.nn.relu(h)
    return -(jax.nn.log_softmax(h, axis=-1) * targets).sum() / x.shape[0]


@jax.jit
def step(params, x, targets):
    value, grads = jax.value_and_grad(loss)(params, x, targets)
    return [(w - 0.01 * gw, b - 0.01 * gb) for (w, b), (gw, gb) in zip(params, grads)], value


def main():
    key = jax.random.PRNGKey(0)
    params = init(key)
    x = jax.random.normal(jax.random.PRNGKey(1), (128, 784), jnp.float32)
    targets = jax.nn.one_hot(jnp.arange(128) * 7 % 10, 10)
    for _ in range(20):
        params, value = step(params, x, targets)
    value.block_until_ready()
    times = []
    for _ in range(300):
        start = time.perf_counter()
        params, value = step(params, x, targets)
        value.block_until_ready()
        params[0][0].block_until_ready()
        times.append(time.perf_counter() - start)
    print(f"jax {jax.__version__} mlp_784_512_512_10_b128_step median {statistics.median(times) * 1e3:.3f} ms")


if __name__ == "__main__":
    main()
