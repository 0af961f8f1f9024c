"""A small pre-activation ResNet for 28x28 / 32x32 images, with batch norm and dropout."""
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.models.common import DTYPES, BatchNorm, compute_dtype


class PreActBlock(nn.Module):
  """BN -> ReLU -> conv3x3 -> BN -> ReLU -> conv3x3, plus a (projected) shortcut."""
  width: int
  stride: int
  dtype: jnp.dtype

  @nn.compact
  def __call__(self, x, *, train: bool):
    norm = lambda: BatchNorm(use_running_average=not train, momentum=0.9, dtype=self.dtype)
    y = nn.relu(norm()(x))
    shortcut = x
    if self.stride != 1 or x.shape[-1] != self.width:
      shortcut = nn.Conv(self.width, (1, 1), self.stride, use_bias=False, dtype=self.dtype)(y)
    y = nn.Conv(self.width, (3, 3), self.stride, padding="SAME", use_bias=False, dtype=self.dtype)(y)
    y = nn.relu(norm()(y))
    y = nn.Conv(self.width, (3, 3), padding="SAME", use_bias=False, dtype=self.dtype)(y)
    return shortcut + y


class ResNet(nn.Module):
  """Stem conv, then stages of pre-activation blocks (stride 2 between stages), global pool, dense."""
  num_outputs: int
  stage_sizes: Sequence[int] = (2, 2, 2)
  widths: Sequence[int] = (32, 64, 128)
  dropout: float = 0.0        # Before the classifier.
  dtype: str = "float32"

  CONFIG_CHECKS = {"stage_sizes": v.each(v.POSITIVE_INT), "widths": v.each(v.POSITIVE_INT),
                   "dropout": v.PROBABILITY, "dtype": v.one_of(*DTYPES)}

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool):
    dtype = compute_dtype(self.dtype)
    x = nn.Conv(self.widths[0], (3, 3), padding="SAME", use_bias=False, dtype=dtype)(x_BxHxWxC.astype(dtype))
    for stage, (blocks, width) in enumerate(zip(self.stage_sizes, self.widths)):
      for block in range(blocks):
        stride = 2 if stage > 0 and block == 0 else 1
        x = PreActBlock(width, stride, dtype)(x, train=train)
    x = nn.relu(BatchNorm(use_running_average=not train, momentum=0.9, dtype=dtype)(x))
    x = x.mean(axis=(1, 2))
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_outputs, dtype=dtype)(x).astype(jnp.float32)
