"""K-Means as pure functions of arrays: k-means++ seeding, Lloyd and mini-batch updates.

Points are rows of `x_NxD` with a weight per row (1 for a real point, 0 for the
padding that makes N divide over the mesh's `data` axis) and their squared norms,
computed once. Squared distances are ||x||^2 - 2 x.c + ||c||^2, one matmul: the
N x K x D difference tensor is never formed. Centroids carry a leading axis of
`n_init` independent restarts (I), fitted side by side in the same matmuls.

Under a mesh, `cluster_stats` runs per device on its rows (`jax.shard_map`) and
the per-cluster sums, counts and inertia of all restarts are summed over `data`
in one all-reduce; the same code runs on one device, many devices and many hosts.
"""
import functools
import math

import jax
import jax.numpy as jnp
from jax.sharding import PartitionSpec as P

from bigmodel_jax.engine.parallel import DATA_AXIS


def squared_distances(x_NxD, x_sq_N, c_MxD):
  """||x - c||^2 for every point and centre, from one matmul; clipped at 0 (rounding)."""
  c_sq_M = jnp.sum(c_MxD * c_MxD, axis=-1)
  cross_NxM = jnp.dot(x_NxD, c_MxD.T, precision=jax.lax.Precision.HIGHEST)
  return jnp.maximum(x_sq_N[:, None] - 2.0 * cross_NxM + c_sq_M[None, :], 0.0)


def assign(x_NxD, x_sq_N, c_IxKxD):
  """Nearest centre of each point for every restart: (labels [I, N], squared distance [I, N]).

  Distances are laid out centres x points: XLA:CPU reduces that over the short centre
  axis several times faster than points x centres.
  """
  i, k, d = c_IxKxD.shape
  c_MxD = c_IxKxD.reshape(i * k, d)
  cross_MxN = jnp.dot(c_MxD, x_NxD.T, precision=jax.lax.Precision.HIGHEST)
  partial_IxKxN = (jnp.sum(c_MxD * c_MxD, axis=-1)[:, None] - 2.0 * cross_MxN).reshape(i, k, -1)
  labels_IxN = jnp.argmin(partial_IxKxN, axis=1).astype(jnp.int32)
  d2_IxN = jnp.maximum(jnp.min(partial_IxKxN, axis=1) + x_sq_N[None, :], 0.0)
  return labels_IxN, d2_IxN


def _local_stats(x_NxD, w_N, x_sq_N, c_IxKxD):
  """This device's rows: per-cluster weighted sums [I, K, D], counts [I, K], inertia [I],
  and each row's squared distance to its centre [I, N] (weight 0 rows give 0)."""
  k = c_IxKxD.shape[1]
  labels_IxN, d2_IxN = assign(x_NxD, x_sq_N, c_IxKxD)
  onehot_IxKxN = (labels_IxN[:, None, :] == jnp.arange(k)[None, :, None]).astype(x_NxD.dtype) * w_N
  sums = jnp.einsum("ikn,nd->ikd", onehot_IxKxN, x_NxD, precision=jax.lax.Precision.HIGHEST)
  counts = jnp.sum(onehot_IxKxN, axis=2)
  d2_IxN = d2_IxN * w_N
  return sums, counts, jnp.sum(d2_IxN, axis=1), d2_IxN


def largest_divisor_at_most(n: int, limit: int) -> int:
  return next(d for d in range(min(n, max(limit, 1)), 0, -1) if n % d == 0)


def _blocked_local_stats(x_NxD, w_N, x_sq_N, c_IxKxD, block_rows: int):
  """`_local_stats` over blocks of rows, summed: both matmuls of a block run while it is in
  cache, so each iteration reads the points from memory once, not twice."""
  n, d = x_NxD.shape
  rows = largest_divisor_at_most(n, block_rows) if block_rows else n
  if rows == n or rows < 64:
    return _local_stats(x_NxD, w_N, x_sq_N, c_IxKxD)
  i, k, _ = c_IxKxD.shape

  def add_block(totals, block):
    sums, counts, inertia, d2_IxB = _local_stats(*block, c_IxKxD)
    return (totals[0] + sums, totals[1] + counts, totals[2] + inertia), d2_IxB

  zeros = (jnp.zeros((i, k, d), x_NxD.dtype), jnp.zeros((i, k), x_NxD.dtype), jnp.zeros((i,), x_NxD.dtype))
  blocks = (x_NxD.reshape(-1, rows, d), w_N.reshape(-1, rows), x_sq_N.reshape(-1, rows))
  (sums, counts, inertia), d2_CxIxB = jax.lax.scan(add_block, zeros, blocks)
  return sums, counts, inertia, jnp.moveaxis(d2_CxIxB, 1, 0).reshape(i, n)


def _farthest_points(x_NxD, d2_IxN, k: int, axis_name):
  """For each restart, the k points farthest from their centres over all devices: [I, k, D]."""
  far_d2_IxK, far_idx_IxK = jax.lax.top_k(d2_IxN, min(k, d2_IxN.shape[1]))
  far_x_IxKxD = x_NxD[far_idx_IxK]
  if axis_name is not None:
    far_d2_IxK = jax.lax.all_gather(far_d2_IxK, axis_name, axis=1, tiled=True)
    far_x_IxKxD = jax.lax.all_gather(far_x_IxKxD, axis_name, axis=1, tiled=True)
  _, best_IxK = jax.lax.top_k(far_d2_IxK, k)
  return jnp.take_along_axis(far_x_IxKxD, best_IxK[..., None], axis=1)


def _stats_and_reseeds(x_NxD, w_N, x_sq_N, c_IxKxD, *, axis_name, block_rows):
  sums, counts, inertia, d2_IxN = _blocked_local_stats(x_NxD, w_N, x_sq_N, c_IxKxD, block_rows)
  if axis_name is not None:   # The one all-reduce of an iteration.
    sums, counts, inertia = jax.lax.psum((sums, counts, inertia), axis_name)
  k = c_IxKxD.shape[1]
  # Empty clusters are rare; only then look for the farthest points (same branch on every device).
  far = jax.lax.cond(jnp.any(counts == 0),
                     lambda: _farthest_points(x_NxD, d2_IxN, k, axis_name),
                     lambda: jnp.zeros_like(c_IxKxD))
  return sums, counts, inertia, far


def cluster_stats(x_NxD, w_N, x_sq_N, c_IxKxD, *, sharded: bool, block_rows: int = 0):
  """Summed over every point (all devices): sums [I, K, D], counts [I, K], inertia [I], and
  the K farthest points of each restart [I, K, D] (zeros when no cluster is empty).

  `sharded`: the rows are split over the mesh's `data` axis (inside a mesh context).
  `block_rows` > 0: each device works through its rows in blocks of at most that many.
  """
  if not sharded:
    return _stats_and_reseeds(x_NxD, w_N, x_sq_N, c_IxKxD, axis_name=None, block_rows=block_rows)
  fn = functools.partial(_stats_and_reseeds, axis_name=DATA_AXIS, block_rows=block_rows)
  return jax.shard_map(fn, in_specs=(P(DATA_AXIS), P(DATA_AXIS), P(DATA_AXIS), P()),
                       out_specs=(P(), P(), P(), P()), check_vma=False)(x_NxD, w_N, x_sq_N, c_IxKxD)


def lloyd_centroids(sums_IxKxD, counts_IxK, far_IxKxD):
  """Means of the clusters; the j-th empty cluster of a restart moves to its j-th farthest point."""
  means = sums_IxKxD / jnp.maximum(counts_IxK, 1.0)[..., None]
  empty = counts_IxK == 0
  rank = jnp.clip(jnp.cumsum(empty, axis=1) - 1, 0, None)
  reseed = jnp.take_along_axis(far_IxKxD, rank[..., None], axis=1)
  return jnp.where(empty[..., None], reseed, means)


def minibatch_centroids(c_IxKxD, seen_IxK, sums_IxKxD, counts_IxK):
  """Running means: each centre moves to the mean of every point assigned to it so far
  (its old position standing for the `seen` points before). Returns (centroids, seen)."""
  seen = seen_IxK + counts_IxK
  step = jnp.where(seen > 0, 1.0 / jnp.maximum(seen, 1.0), 0.0)[..., None]
  return c_IxKxD + step * (sums_IxKxD - counts_IxK[..., None] * c_IxKxD), seen


def _sample_rows(rng, weights_N, num: int):
  """`num` row indices drawn with probability proportional to `weights_N` (inverse CDF)."""
  cdf = jnp.cumsum(weights_N)
  u = jax.random.uniform(rng, (num,), maxval=1.0) * cdf[-1]
  return jnp.clip(jnp.searchsorted(cdf, u, side="right"), 0, weights_N.shape[0] - 1)


def kmeans_plus_plus(rng, x_NxD, w_N, x_sq_N, k: int, num_candidates: int):
  """Greedy k-means++: each new centre is the best of `num_candidates` points drawn with
  probability proportional to their squared distance to the centres so far (the one that
  lowers the total the most). Returns centroids [k, D]; they are distinct points of x."""
  first_rng, rest_rng = jax.random.split(rng)
  first = _sample_rows(first_rng, w_N, 1)[0]
  c_KxD = jnp.zeros((k, x_NxD.shape[1]), x_NxD.dtype).at[0].set(x_NxD[first])
  d2_N = squared_distances(x_NxD, x_sq_N, x_NxD[first][None])[:, 0] * w_N

  def add_centre(i, carry):
    c_KxD, d2_N = carry
    candidates = _sample_rows(jax.random.fold_in(rest_rng, i), d2_N, num_candidates)
    cand_d2_NxL = jnp.minimum(d2_N[:, None],
                              squared_distances(x_NxD, x_sq_N, x_NxD[candidates]) * w_N[:, None])
    best = jnp.argmin(jnp.sum(cand_d2_NxL, axis=0))
    return c_KxD.at[i].set(x_NxD[candidates[best]]), cand_d2_NxL[:, best]

  c_KxD, _ = jax.lax.fori_loop(1, k, add_centre, (c_KxD, d2_N))
  return c_KxD


def default_num_candidates(k: int) -> int:
  """2 + ln(k) candidates per centre, as in Arthur and Vassilvitskii's greedy variant."""
  return 2 + int(math.log(k))
