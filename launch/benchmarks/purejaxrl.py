"""The PPO benchmark's peer: purejaxrl's `ppo.py`, loaded from a checkout the user gives, run unedited.

Two things in the checkout do not run against this environment as they are, and are
adapted at load time, in memory, without touching its files:
  * its `wrappers.py` imports brax and navix for wrappers `ppo.py` does not use: empty
    stand-in modules take their place in `sys.modules` while it loads;
  * gymnax 1.0's `step` returns (obs, state, reward, terminated, truncated, info), where
    the code expects (obs, state, reward, done, info): `make` hands it the environment
    behind `FiveValueStep`, which folds the two flags into done = terminated or truncated.
"""
import contextlib
import importlib.util
import os
import sys
import types

from bigmodel_jax.errors import ConfigError

# Modules imported by the checkout's wrappers.py that ppo.py never uses.
UNUSED_IMPORTS = ("brax", "brax.envs", "brax.envs.wrappers", "brax.envs.wrappers.training", "navix")


class FiveValueStep:
  """A gymnax 1.0 environment whose `step` returns the older five values."""

  def __init__(self, env):
    self._env = env

  def __getattr__(self, name):
    return getattr(self._env, name)

  def step(self, key, state, action, params=None):
    obs, state, reward, terminated, truncated, info = self._env.step(key, state, action, params)
    return obs, state, reward, terminated | truncated, info


@contextlib.contextmanager
def _stand_ins(names):
  """Empty modules for `names` not importable here, removed again afterwards."""
  added, missing = [], {n.split(".")[0] for n in names if importlib.util.find_spec(n.split(".")[0]) is None}
  for name in names:
    if name not in sys.modules and name.split(".")[0] in missing:
      module = types.ModuleType(name)
      module.__getattr__ = lambda attr: type(attr, (), {})   # Any name it imports is a placeholder class.
      sys.modules[name] = added.append(name) or module
  try:
    yield
  finally:
    for name in added:
      sys.modules.pop(name, None)


def load_ppo(reference_dir: str):
  """purejaxrl's ppo.py as a module, from `reference_dir` (the repository or its purejaxrl/ folder)."""
  folder = os.path.join(reference_dir, "purejaxrl")
  folder = folder if os.path.isfile(os.path.join(folder, "ppo.py")) else reference_dir
  path = os.path.join(folder, "ppo.py")
  if not os.path.isfile(path):
    raise ConfigError(f"--reference_dir={reference_dir!r}: no purejaxrl/ppo.py there; give a purejaxrl checkout")
  import gymnax
  sys.path.insert(0, folder)
  try:
    with _stand_ins(UNUSED_IMPORTS):
      spec = importlib.util.spec_from_file_location("purejaxrl_ppo", path)
      module = importlib.util.module_from_spec(spec)
      spec.loader.exec_module(module)
  finally:
    sys.path.remove(folder)
  make = lambda name, **kw: (lambda env, params: (FiveValueStep(env), params))(*gymnax.make(name, **kw))
  module.gymnax = types.SimpleNamespace(make=make)
  return module


def settings(config) -> dict:
  """purejaxrl's config dict with the values of our PPO config, so both train the same thing."""
  rl = config.rl
  return {"LR": config.optimizer.learning_rate, "NUM_ENVS": rl.num_envs, "NUM_STEPS": rl.num_steps,
          "TOTAL_TIMESTEPS": rl.total_env_steps, "UPDATE_EPOCHS": rl.update_epochs,
          "NUM_MINIBATCHES": rl.num_minibatches, "GAMMA": rl.gamma, "GAE_LAMBDA": rl.gae_lambda,
          "CLIP_EPS": rl.clip_eps, "ENT_COEF": rl.ent_coef, "VF_COEF": rl.vf_coef,
          "MAX_GRAD_NORM": config.optimizer.grad_clip_norm, "ACTIVATION": "tanh", "ENV_NAME": config.env.name,
          "ANNEAL_LR": True, "DEBUG": False}


def time_train(module, config, num_seeds: int) -> dict:
  """Compile and run seconds, env steps/s and final returns of `num_seeds` agents of the peer's
  `make_train`, jitted as its README shows (vmapped over seeds when there are several)."""
  import jax
  import numpy as np
  from launch.benchmarks import harness
  peer = settings(config)
  train = module.make_train(peer)
  keys = jax.random.split(jax.random.PRNGKey(config.seed), num_seeds)
  one = num_seeds == 1   # One agent: jitted alone, as its own __main__ runs it.
  compiled, compile_s = harness.compile_ahead(jax.jit(train if one else jax.vmap(train)), keys[0] if one else keys)
  with harness.Stopwatch() as watch:
    metrics = compiled(keys[0] if one else keys)["metrics"]
    returns = np.asarray(jax.device_get(metrics["returned_episode_returns"]))
  returns = returns[None] if one else returns   # [seeds, updates, steps, envs]
  env_steps = peer["NUM_UPDATES"] * peer["NUM_STEPS"] * peer["NUM_ENVS"]
  final = returns[:, -1].mean(axis=(1, 2))
  return {"seeds": num_seeds, "devices": 1, "updates": peer["NUM_UPDATES"], "compile_s": compile_s,
          "run_s": watch.seconds, "run_cpu_s": watch.cpu_seconds, "env_steps_per_s": num_seeds * env_steps / watch.seconds,
          "final_return_mean": float(final.mean()), "final_return_min": float(final.min())}
