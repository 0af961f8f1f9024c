"""The source material's CNN: conv -> pool -> conv -> pool -> dense -> dense."""
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models.common import DTYPES, BatchNorm, compute_dtype, max_pool_2x2
from bigmodel_jax.models.mlp import ACTIVATIONS


class CNN(nn.Module):
  """conv(k x k, f_i) -> activation -> 2x2 max-pool for each f_i, then dense -> activation -> dense.

  `pool_after` drops the pool after chosen stages (the source's three-conv CIFAR-10 CNN).

  Defaults are the source material's 99.4%-on-MNIST variant: conv 5x5 32, pool,
  conv 5x5 64, pool, dense 128, dense `num_outputs` (logits; softmax lives in the loss).
  """
  num_outputs: int
  features: Sequence[int] = (32, 64)
  kernel_size: int = 5
  padding: str = "VALID"      # Keras' default; "SAME" keeps the spatial size before pooling.
  convs_per_stage: int = 1    # Convolutions before each pool (2 = VGG-style stages).
  pool_after: Sequence[bool] = ()  # One flag per stage; () pools after every stage.
  dense_features: int = 128
  dropout: float = 0.0        # On the dense layer's input and output.
  batch_norm: bool = False    # conv -> BN -> ReLU; not in the source, converges faster.
  # tanh keeps activations bounded, which DP-SGD's clipped, noisy gradients train better
  # (Papernot et al. 2020, "tempered sigmoids"); ReLU is the source's.
  activation: str = "relu"
  dtype: str = "float32"

  # Valid values of the `model.*` keys (bigmodel_jax.validation).
  CONFIG_CHECKS = {"features": v.each(v.POSITIVE_INT), "kernel_size": v.POSITIVE_INT,
                   "padding": v.one_of("SAME", "VALID"), "convs_per_stage": v.POSITIVE_INT,
                   "pool_after": v.each(v.BOOL),
                   "dense_features": v.POSITIVE_INT, "dropout": v.PROBABILITY, "batch_norm": v.BOOL,
                   "activation": v.one_of(*ACTIVATIONS),
                   "dtype": v.one_of(*DTYPES)}

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool):
    dtype = compute_dtype(self.dtype)
    if self.convs_per_stage < 1:
      raise ConfigError(f"model.convs_per_stage={self.convs_per_stage}; it must be at least 1")
    pools = self._pools()
    act = ACTIVATIONS[self.activation]
    x = x_BxHxWxC.astype(dtype)
    for width, pool in zip(self.features, pools):
      for _ in range(self.convs_per_stage):
        x = nn.Conv(width, (self.kernel_size, self.kernel_size), padding=self.padding,
                    use_bias=not self.batch_norm, dtype=dtype)(x)
        if self.batch_norm:
          x = BatchNorm(use_running_average=not train, momentum=0.9, dtype=dtype)(x)
        x = act(x)
      if pool:
        x = max_pool_2x2(x)
    x = x.reshape(x.shape[0], -1)
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    x = act(nn.Dense(self.dense_features, dtype=dtype)(x))
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_outputs, dtype=dtype)(x).astype(jnp.float32)

  def _pools(self) -> list[bool]:
    """Whether each stage ends in a pool; the source's three-conv CNN ends on a conv."""
    if not self.pool_after:
      return [True] * len(self.features)
    if len(self.pool_after) != len(self.features):
      raise ConfigError(f"model.pool_after={tuple(self.pool_after)} has {len(self.pool_after)} flags; "
                        f"it needs one per stage of model.features={tuple(self.features)} (or () to pool after each)")
    return list(self.pool_after)
