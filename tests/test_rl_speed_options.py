"""PPO's speed options (rl.values_in_rollout, rl.rollout_unroll, rl.epoch_unroll, rl.vmap_one_agent)
train the same agent as the default path, resume bit for bit; and the update's profile runs."""
import functools
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.workloads.rl import ppo
from bigmodel_jax.workloads.rl.env import env_spec
from conftest import REPO, assert_same_arrays, make_config, one_error_line, params, stop_and_resume

# Updates are short, so every option's run is compared after the same 4 dispatches.
STEPS = 8


# The path without any speed option (ppo_cartpole turns some on), which each option is compared with.
PLAIN = {"rl.values_in_rollout": False, "rl.rollout_unroll": 1, "rl.vmap_one_agent": True}


def _config(**overrides):
  return make_config("ppo_cartpole", **{"mesh.data": 1, "rl.total_env_steps": STEPS * 256, **PLAIN, **overrides})


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("default"))
  trainer.train_and_evaluate(_config(), workdir)
  return workdir


def _first_rollout(config):
  """One agent of `config` and its first rollout."""
  spec = env_spec(config)
  agent = ppo.init_agent(jax.random.PRNGKey(3), config=config, spec=spec)
  _, rollout = ppo.collect_rollout(agent, jax.random.PRNGKey(4), config=config, spec=spec)
  return agent, rollout, spec


def test_values_in_the_rollout_equal_the_critic_pass_afterwards():
  plain, inside = _config(), _config(**{"rl.values_in_rollout": True})
  agent, rollout, spec = _first_rollout(plain)
  _, with_values, _ = _first_rollout(inside)
  assert "value" in with_values and "value" not in rollout
  np.testing.assert_array_equal(with_values["action"], rollout["action"])   # The same policy's draws.
  want = ppo.update_data(agent, agent, rollout, config=plain, spec=spec)
  got = ppo.update_data(agent, agent, with_values, config=inside, spec=spec)
  for key in want:
    np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, err_msg=key)


def test_values_in_the_rollout_bootstrap_from_the_final_observation_at_a_truncation():
  config = _config(**{"rl.values_in_rollout": True})
  agent, rollout, spec = _first_rollout(config)
  truncated = np.zeros(rollout["truncated"].shape, bool)
  truncated[5, 2] = True
  rollout = {**rollout, "truncated": truncated, "terminated": np.zeros_like(truncated)}
  data = ppo.update_data(agent, agent, rollout, config=config, spec=spec)
  e = truncated.shape[1]
  final_value = ppo._critic_values(agent, rollout["final_obs"][5, 2][None], config=config, spec=spec)[0]
  # At step 5 of env 2: target = advantage + value, advantage = r + gamma V(final) - V(obs) (the sum stops).
  i = 5 * e + 2
  delta = rollout["reward"][5, 2] + config.rl.gamma * final_value - data["value"][i]
  np.testing.assert_allclose(data["advantage"][i], delta, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("overrides", [{"rl.values_in_rollout": True}, {"rl.rollout_unroll": 4},
                                       {"rl.epoch_unroll": 2}, {"rl.fused_shuffle": True}])
def test_speed_option_trains_the_same_agents(default_run, tmp_path, overrides):
  trainer.train_and_evaluate(_config(**overrides), str(tmp_path))
  for a, b in zip(params(default_run), params(str(tmp_path)), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_one_agent_without_the_seed_axis_equals_it_vmapped(tmp_path):
  one = {"rl.num_seeds": 1}
  trainer.train_and_evaluate(_config(**one), str(tmp_path / "vmapped"))
  trainer.train_and_evaluate(_config(**one, **{"rl.vmap_one_agent": False}), str(tmp_path / "alone"))
  for a, b in zip(params(str(tmp_path / "vmapped")), params(str(tmp_path / "alone")), strict=True):
    assert a.shape == b.shape and a.shape[0] == 1
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_stopped_and_resumed_with_the_options_equals_straight(tmp_path):
  options = {"rl.values_in_rollout": True, "rl.rollout_unroll": 4, "rl.num_seeds": 1, "rl.vmap_one_agent": False}
  config_fn = functools.partial(_config, **options, **{"train.eval_every_steps": 4, "checkpoint.every_steps": 4})
  trainer.train_and_evaluate(config_fn(), str(tmp_path / "straight"))
  stop_and_resume(config_fn, str(tmp_path / "resumed"), step=4)
  assert_same_arrays(params(str(tmp_path / "straight")), params(str(tmp_path / "resumed")))


@pytest.mark.slow
def test_the_update_profile_runs_on_tiny_shapes(tmp_path):
  out = tmp_path / "profile.json"
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  result = subprocess.run([sys.executable, "-m", "launch.benchmark", "ppo_profile", "--config=configs/ppo_cartpole.py:tiny",
                           "--seeds=1", "--calls=2", "--variant=rl.rollout_unroll=2", f"--out={out}"],
                          cwd=REPO, env=dict(env, JAX_PLATFORMS="cpu"), capture_output=True, text=True, timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  for phase in ("rollout", "targets", "gae", "epochs", "shuffle", "minibatch", "update", "dispatch"):
    assert f"  {phase} " in result.stdout, phase
  assert "-- rl.rollout_unroll=2" in result.stdout and out.exists()


@pytest.mark.parametrize("variant, message", [("rl.no_such_key=3", "cannot set rl.no_such_key=3"),
                                              ("rl.rollout_unroll=0", "rl.rollout_unroll=0 is not allowed")])
def test_a_bad_variant_is_one_error_line_before_any_run(variant, message):
  result = subprocess.run([sys.executable, "-m", "launch.benchmark", "ppo_profile", "--config=configs/ppo_cartpole.py:tiny",
                           "--seeds=1", f"--variant={variant}"],
                          cwd=REPO, env=dict(os.environ, JAX_PLATFORMS="cpu"), capture_output=True, text=True,
                          timeout=120)
  assert result.returncode == 1
  assert one_error_line(result).startswith(f"error: --variant={variant!r}: ") and message in result.stderr
  assert "ms per call" not in result.stdout
