"""Multi-layer perceptron: the source material's backprop examples (2-2-1 sigmoid, 1-2-1 ReLU)."""
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models.common import DTYPES, compute_dtype

ACTIVATIONS = {"relu": nn.relu, "sigmoid": nn.sigmoid, "tanh": jnp.tanh, "gelu": nn.gelu}


class MLP(nn.Module):
  """Flattens its input, then dense -> activation for each hidden width, then a linear output."""
  num_outputs: int
  hidden: Sequence[int] = (128,)
  activation: str = "relu"
  dropout: float = 0.0
  dtype: str = "float32"

  CONFIG_CHECKS = {"hidden": v.each(v.POSITIVE_INT), "activation": v.one_of(*ACTIVATIONS),
                   "dropout": v.PROBABILITY, "dtype": v.one_of(*DTYPES)}

  @nn.compact
  def __call__(self, x, *, train: bool):
    if self.activation not in ACTIVATIONS:
      raise ConfigError(f"model.activation={self.activation!r}; choose one of {sorted(ACTIVATIONS)}")
    dtype = compute_dtype(self.dtype)
    x = x.reshape(x.shape[0], -1).astype(dtype)
    for width in self.hidden:
      x = ACTIVATIONS[self.activation](nn.Dense(width, dtype=dtype)(x))
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_outputs, dtype=dtype)(x).astype(jnp.float32)
