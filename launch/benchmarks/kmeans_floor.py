"""K-Means benchmark measures that define no flags, so tests and other tools can import them.

`per_iteration` is the one time-per-iteration measure of both sides; `iteration_floor` is this
machine's floor for one Lloyd iteration, measured in the same process as the fits.
"""
import statistics

from launch.benchmarks import harness


def per_iteration(fit: dict) -> float:
  """Fit seconds / iterations: the same measure for both sides (it holds the init too)."""
  return fit["fit_s"] / max(fit["n_iter"], 1)


def _median_seconds(fn, *args, times: int = 7) -> float:
  import jax
  compiled = jax.jit(fn).lower(*args).compile()
  jax.block_until_ready(compiled(*args))
  return statistics.median(harness.window_seconds(lambda: jax.block_until_ready(compiled(*args)), times))


def iteration_floor(x, num_centres: int) -> dict:
  """This machine's floor for one Lloyd iteration over `x` [N, D] with `num_centres` centres
  (restarts x k): the larger of one read pass over the points and the two matmuls' FLOPs at
  the measured matmul rate."""
  import jax.numpy as jnp
  points = jnp.asarray(x)
  read_s = _median_seconds(lambda p: jnp.sum(p, axis=0), points)
  square = jnp.ones((1024, 1024), jnp.float32)
  flop_rate = 2 * 1024 ** 3 / _median_seconds(lambda a: a @ a, square)
  matmul_s = 4 * points.shape[0] * points.shape[1] * num_centres / flop_rate
  return {"read_s": read_s, "read_gb_per_s": points.nbytes / read_s / 1e9, "matmul_gflop_per_s": flop_rate / 1e9,
          "matmul_s": matmul_s, "floor_s": max(read_s, matmul_s)}
