"""gymnax environments: imported on first use, their static facts (`EnvSpec`) and the evaluation's
episodes as the workload's data."""
import dataclasses
import functools
import math

import jax.numpy as jnp
import numpy as np

from bigmodel_jax.data.base import Data
from bigmodel_jax.errors import ConfigError


def _gymnax():
  """gymnax, imported on first use: importing it starts JAX's backend, which must wait
  for `jax.distributed.initialize` in a multi-process launch."""
  import gymnax  # pylint: disable=import-outside-toplevel
  return gymnax


def check_env_name(key: str, value) -> None:
  """Config check of `env.name` against gymnax's registered environments (listed on error)."""
  names = list(_gymnax().registered_envs)
  if value not in names:
    raise ConfigError(f"{key}={value!r} is not allowed; expected one of {names}")


EPISODES = "episodes"   # The evaluation "split": greedy and sampled episodes of the trained policies.


@dataclasses.dataclass(frozen=True)
class EnvSpec:
  """Static facts of the environment and the run, bound into the jitted functions."""
  env_name: str
  obs_shape: tuple
  num_actions: int          # Discrete actions, or action dimensions of a continuous space.
  continuous: bool
  action_low: float
  action_high: float
  max_episode_steps: int
  num_updates: int


@functools.lru_cache(maxsize=None)
def make_env(name: str):
  """(environment, its default parameters); gymnax environments are stateless objects."""
  return _gymnax().make(name)


class EpisodeData(Data):
  """No host data: evaluation runs `num_episodes` episodes, in batches of episode numbers."""

  def __init__(self, spec: EnvSpec, num_episodes: int):
    self.spec, self.num_episodes = spec, num_episodes

  def facts(self) -> dict:
    """The environment's spaces, which the policy's inputs and outputs follow."""
    s = self.spec
    return {"obs_shape": list(s.obs_shape), "num_actions": s.num_actions,
            "continuous": s.continuous, "action_range": [s.action_low, s.action_high]}

  def eval_batches(self, split: str, batch_size: int):
    del split
    for start in range(0, self.num_episodes, batch_size):
      ids = np.arange(start, start + batch_size, dtype=np.int32)
      yield {"episode": ids, "mask": ids < self.num_episodes}


def env_spec(config) -> EnvSpec:
  """The environment's static facts, checked against the policy head and the rollout's shape."""
  env, env_params = make_env(config.env.name)
  space = env.action_space(env_params)
  continuous = not isinstance(space, _gymnax().environments.spaces.Discrete)
  if continuous != (config.model.head == "gaussian"):
    raise ConfigError(f"model.head={config.model.head!r} does not fit {config.env.name}'s "
                      f"{'continuous' if continuous else 'discrete'} actions; use "
                      f"{'gaussian' if continuous else 'categorical'}")
  rollout = config.rl.num_envs * config.rl.num_steps
  if rollout % config.rl.num_minibatches:
    raise ConfigError(f"rl.num_envs x rl.num_steps = {rollout} transitions do not split into "
                      f"rl.num_minibatches={config.rl.num_minibatches} equal minibatches")
  updates = config.rl.total_env_steps // rollout
  if updates < 1:
    raise ConfigError(f"rl.total_env_steps={config.rl.total_env_steps} is less than one rollout ({rollout} steps)")
  obs_shape = tuple(env.observation_space(env_params).shape)
  return EnvSpec(config.env.name, obs_shape,
                 int(math.prod(space.shape)) if continuous else int(space.n), continuous,
                 float(np.min(space.low)) if continuous else 0.0,
                 float(np.max(space.high)) if continuous else 0.0,
                 int(env_params.max_steps_in_episode), updates)


def env_action(action, spec: EnvSpec):
  """What the environment gets: continuous actions clipped to its bounds."""
  return jnp.clip(action, spec.action_low, spec.action_high) if spec.continuous else action
