"""The train state of single-model workloads: arrays only, so it shards, donates and checkpoints as is.

The model and optimizer are rebuilt from the config inside each jitted function
(they are pure functions of it), so no Python objects ride along in the state.
"""
from typing import Any

import jax
import jax.numpy as jnp
from flax import struct


@struct.dataclass
class TrainState:
  step: Any          # int32 scalar: optimizer steps taken.
  params: Any        # Trainable parameters.
  model_state: Any   # Non-trainable collections, e.g. {"batch_stats": ...}; {} if none.
  opt_state: Any
  ema_params: Any    # Exponential moving average of params (evaluated when enabled), else None.

  @classmethod
  def create(cls, variables: dict, tx, use_ema: bool = False) -> "TrainState":
    params = variables["params"]
    model_state = {k: v for k, v in variables.items() if k != "params"}
    return cls(step=jnp.zeros((), jnp.int32), params=params, model_state=model_state,
               opt_state=tx.init(params), ema_params=params if use_ema else None)

  def eval_params(self):
    return self.params if self.ema_params is None else self.ema_params


def ema_update(ema_params, params, step, decay: float):
  """One EMA step; the decay ramps up as (1 + t) / (10 + t) so early averages forget the init."""
  decay = jnp.minimum(decay, (1.0 + step) / (10.0 + step))
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema_params, params)
