"""Global magnitude pruning on a schedule, as an optax transformation whose state holds the masks.

The masks live in the optimizer state (so in the train state and its checkpoints).
After the inner optimizer, each update of a pruned weight is replaced by minus the
weight, so the weight lands on exactly 0 and stays there. Every `update_every_steps`
the masks are recomputed from the weights' magnitudes over all kernels together
(one global threshold) at the scheduled sparsity (cubic ramp, Zhu & Gupta 2017).
"""
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigmodel_jax.config import checks as v

PRUNE_SECTION = dict(
    sparsity=(0.0, v.PROBABILITY),             # Final fraction of kernel weights set to zero (0 = off).
    begin_step=(0, v.NON_NEGATIVE_INT),      # First step of the ramp.
    ramp_fraction=(0.75, v.FRACTION),        # The ramp ends at this fraction of the run; then fine-tunes.
    update_every_steps=(50, v.POSITIVE_INT), # Masks recomputed this often during the ramp.
)


class PruneState(NamedTuple):
  count: Any     # Updates taken.
  masks: Any     # 1 = kept, 0 = pruned; all ones for weights that are not kernels.


def _path_name(path) -> str:
  return "/".join(str(getattr(k, "key", k)) for k in path)


def is_weight(path, p) -> bool:
  """Weight matrices and kernels (2-D or more) are pruned; biases and normalisation scales are
  not, whatever their rank (the Transformer's qkv_bias is (3, heads, head_dim))."""
  return p.ndim > 1 and not _path_name(path).endswith(("bias", "scale"))


def prunable(params):
  return jax.tree_util.tree_map_with_path(is_weight, params)


def scheduled_sparsity(cfg, step, total_steps: int):
  end = max(int(total_steps * cfg.ramp_fraction), cfg.begin_step + 1)
  progress = jnp.clip((step - cfg.begin_step) / (end - cfg.begin_step), 0.0, 1.0)
  return cfg.sparsity * (1.0 - (1.0 - progress) ** 3)


def magnitude_masks(params, sparsity):
  """Masks keeping the largest |w| of all kernels together, pruning `sparsity` of them."""
  which = prunable(params)
  kernels = [jnp.abs(p).ravel() for p, w in zip(jax.tree.leaves(params), jax.tree.leaves(which)) if w]
  everything = jnp.sort(jnp.concatenate(kernels))
  pruned = jnp.floor(sparsity * everything.size).astype(jnp.int32)   # Weights at or below the threshold.
  threshold = jnp.where(pruned > 0, everything[jnp.clip(pruned - 1, 0, everything.size - 1)], -1.0)
  return jax.tree.map(lambda p, w: (jnp.abs(p) > threshold).astype(p.dtype) if w else jnp.ones_like(p),
                      params, which)


def magnitude_pruning(cfg, total_steps: int) -> optax.GradientTransformation:
  """Chain it after the optimizer: its updates keep pruned weights at exactly zero."""

  def init(params):
    return PruneState(jnp.zeros((), jnp.int32), jax.tree.map(jnp.ones_like, params))

  def update(updates, state, params):
    new_params = optax.apply_updates(params, updates)
    due = (state.count >= cfg.begin_step) & (state.count % cfg.update_every_steps == 0)
    sparsity = scheduled_sparsity(cfg, state.count, total_steps)
    masks = jax.lax.cond(due, lambda: magnitude_masks(jax.tree.map(lambda p, m: p * m, new_params, state.masks),
                                                      sparsity), lambda: state.masks)
    updates = jax.tree.map(lambda u, p, m: jnp.where(m > 0, u, -p), updates, params, masks)
    return updates, PruneState(state.count + 1, masks)

  return optax.GradientTransformation(init, update)


def enabled(cfg) -> bool:
  """None (a config written before the section existed) is off."""
  return cfg is not None and cfg.sparsity > 0


def with_pruning(tx, cfg, total_steps: int):
  return tx if not enabled(cfg) else optax.chain(tx, magnitude_pruning(cfg, total_steps))


def sparsity_report(params) -> dict:
  """Fraction of zeros per prunable weight (by path) and over all of them."""
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  per_layer, zeros, total = {}, 0, 0
  for path, p in flat:
    p = np.asarray(p)
    if not is_weight(path, p):
      continue
    per_layer[_path_name(path)] = float(np.mean(p == 0))
    zeros, total = zeros + int(np.sum(p == 0)), total + p.size
  return {"global": zeros / max(total, 1), "per_layer": per_layer}
