"""Actor-critic networks for reinforcement learning: separate policy and value towers.

The actor and the critic are called on their own (`method="actor"` / `"critic"`):
the rollout only needs the policy, and the values of a whole rollout are computed
afterwards in one batched call, which is much cheaper on a CPU than one small
critic call per environment step. `conv_features` puts a small CNN in front of
each tower (MinAtar's 10x10xC observations); without it observations are flattened.
"""
from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.config import checks as v
from bigmodel_jax.models.mlp import ACTIVATIONS

HEADS = ("categorical", "gaussian")


def _orthogonal(scale: float):
  return nn.initializers.orthogonal(scale)


class Conv3x3(nn.Module):
  """3x3 'VALID' convolution written as 9 shifted slices @ kernel: a plain matmul, because
  XLA:CPU runs real convolutions far slower inside the update's scans. Same parameters
  and result as `nn.Conv(features, (3, 3), padding="VALID")`."""
  features: int

  @nn.compact
  def __call__(self, x_BxHxWxC):
    c = x_BxHxWxC.shape[-1]
    kernel = self.param("kernel", _orthogonal(np.sqrt(2)), (3, 3, c, self.features))
    bias = self.param("bias", nn.initializers.zeros, (self.features,))
    h, w = x_BxHxWxC.shape[1] - 2, x_BxHxWxC.shape[2] - 2
    patches = jnp.concatenate([x_BxHxWxC[:, i:i + h, j:j + w] for i in range(3) for j in range(3)], axis=-1)
    return patches @ kernel.reshape(9 * c, self.features) + bias


class Tower(nn.Module):
  """[conv 3x3 -> relu]* -> flatten -> [dense -> activation]* -> dense(num_outputs)."""
  num_outputs: int
  hidden: Sequence[int]
  activation: str
  conv_features: Sequence[int]
  output_scale: float

  @nn.compact
  def __call__(self, x_BxO):
    x = x_BxO
    for width in self.conv_features:
      x = nn.relu(Conv3x3(width)(x))
    x = x.reshape(x.shape[0], -1)
    for width in self.hidden:
      x = ACTIVATIONS[self.activation](nn.Dense(width, kernel_init=_orthogonal(np.sqrt(2)))(x))
    return nn.Dense(self.num_outputs, kernel_init=_orthogonal(self.output_scale))(x)


class ActorCritic(nn.Module):
  """Policy (categorical logits, or a Gaussian mean and a learned state-independent
  log-std) and a value function, each with its own tower."""
  num_outputs: int                       # Actions (categorical) or action dimensions (gaussian).
  hidden: Sequence[int] = (64, 64)
  activation: str = "tanh"
  conv_features: Sequence[int] = ()
  head: str = "categorical"
  log_std_init: float = 0.0

  CONFIG_CHECKS = {"hidden": v.each(v.POSITIVE_INT), "activation": v.one_of(*ACTIVATIONS),
                   "conv_features": v.each(v.POSITIVE_INT), "head": v.one_of(*HEADS),
                   "log_std_init": v.real_in(-5.0, 2.0)}

  def setup(self):
    self.policy = Tower(self.num_outputs, self.hidden, self.activation, self.conv_features, 0.01)
    self.value = Tower(1, self.hidden, self.activation, self.conv_features, 1.0)
    if self.head == "gaussian":
      self.log_std = self.param("log_std", nn.initializers.constant(self.log_std_init), (self.num_outputs,))

  def actor(self, obs_BxO):
    """(logits or mean [B, A], log-std [B, A]; zeros for a categorical head)."""
    out = self.policy(obs_BxO.astype(jnp.float32))
    if self.head == "gaussian":
      return out, jnp.broadcast_to(self.log_std, out.shape)
    return out, jnp.zeros_like(out)

  def critic(self, obs_BxO):
    return self.value(obs_BxO.astype(jnp.float32))[..., 0]

  def __call__(self, obs_BxO):
    return self.actor(obs_BxO), self.critic(obs_BxO)
