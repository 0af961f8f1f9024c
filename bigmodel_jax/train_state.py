"""The train state of single-model workloads: arrays only, so it shards, donates and checkpoints as is.

The model and optimizer are rebuilt from the config inside each jitted function
(they are pure functions of it), so no Python objects ride along in the state.
"""
from typing import Any

import jax.numpy as jnp
from flax import struct


@struct.dataclass
class TrainState:
  step: Any          # int32 scalar: optimizer steps taken.
  params: Any        # Trainable parameters.
  model_state: Any   # Non-trainable collections, e.g. {"batch_stats": ...}; {} if none.
  opt_state: Any

  @classmethod
  def create(cls, variables: dict, tx) -> "TrainState":
    params = variables["params"]
    model_state = {k: v for k, v in variables.items() if k != "params"}
    return cls(step=jnp.zeros((), jnp.int32), params=params, model_state=model_state,
               opt_state=tx.init(params))
