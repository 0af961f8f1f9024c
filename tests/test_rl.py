"""RL workload: GAE and the PPO loss by hand, then PPO and REINFORCE end to end on tiny CartPole configs."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.errors import CheckpointError, ConfigError
from bigmodel_jax.workloads.rl import ppo
from conftest import assert_same_arrays, make_config, metric, params, stop_and_resume


def _config(name="ppo_cartpole", **overrides):
  """A tiny config on one device (compiling for 8 simulated ones takes 3x longer), with overrides."""
  return make_config(name, **{"mesh.data": 1, **overrides})


def test_gae_by_hand_with_a_truncation_and_a_termination():
  gamma, lam = 0.9, 0.5
  rewards = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
  values = np.array([0.5, 1.0, 1.5, 2.0, 2.5])
  # Step 1 is truncated (its final observation is worth 10), step 3 terminates; step 4 is
  # cut by the rollout's end and bootstraps from the next observation's value, 7.
  next_values = np.array([1.0, 10.0, 2.0, 99.0, 7.0])
  terminated = np.array([False, False, False, True, False])
  truncated = np.array([False, True, False, False, False])
  d4 = 5 + 0.9 * 7 - 2.5                  # 8.8
  d3 = 4 - 2.0                            # Terminated: no future value. 2.0
  d2 = 3 + 0.9 * 2.0 - 1.5                # 3.3
  d1 = 2 + 0.9 * 10.0 - 1.0               # Truncated: bootstrapped from the final observation. 10.0
  d0 = 1 + 0.9 * 1.0 - 0.5                # 1.4
  a4, a3 = d4, d3                         # The episode ends at 3: nothing flows back from 4.
  a2 = d2 + 0.45 * a3
  a1 = d1                                 # Truncation ends the sum too.
  a0 = d0 + 0.45 * a1
  expected = np.array([a0, a1, a2, a3, a4])
  adv, targets = ppo.gae_advantages(*(jnp.asarray(x)[:, None] for x in
                                     (rewards, values, next_values, terminated, truncated)), gamma, lam)
  np.testing.assert_allclose(np.asarray(adv)[:, 0], expected, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(targets)[:, 0], expected + values, rtol=1e-6)


def test_ppo_loss_terms_on_a_fixed_case():
  batch = {"logp": jnp.log(jnp.array([0.5, 0.5])), "advantage": jnp.array([1.0, -1.0]),
           "value": jnp.array([0.0, 1.0]), "target": jnp.array([1.0, 0.0])}
  new_logp = jnp.log(jnp.array([0.8, 0.6]))   # Ratios 1.6 (clipped to 1.2) and 1.2 (clipped to 1.2).
  new_values = jnp.array([0.5, 0.0])
  entropy = jnp.array([0.6, 0.4])
  total, t = ppo.ppo_loss_terms(new_logp, entropy, new_values, batch, clip_eps=0.2, vf_coef=0.5, ent_coef=0.1,
                               clip_value=True, normalize_advantages=False)
  # Policy: -mean(min(1.6*1, 1.2*1), min(1.2*-1, 1.2*-1)) = -(1.2 - 1.2)/2 = 0.
  assert float(t["policy_loss"]) == pytest.approx(0.0, abs=1e-6)
  # Value: clipped predictions 0.2 and 0.8; errors max(0.25, 0.64) and max(0, 0.64).
  assert float(t["value_loss"]) == pytest.approx(0.5 * (0.64 + 0.64) / 2)
  assert float(t["entropy"]) == pytest.approx(0.5)
  assert float(t["clip_fraction"]) == pytest.approx(1.0)
  kl = np.mean([0.6 - np.log(1.6), 0.2 - np.log(1.2)])
  assert float(t["approx_kl"]) == pytest.approx(kl, rel=1e-5)
  assert float(total) == pytest.approx(0.0 + 0.5 * 0.32 - 0.1 * 0.5, rel=1e-5)
  # REINFORCE: -mean(logp * A), no clipping.
  _, r = ppo.ppo_loss_terms(new_logp, entropy, new_values, batch, clip_eps=0.2, vf_coef=0.5, ent_coef=0.1,
                           clip_value=False, normalize_advantages=False, clip_policy=False)
  assert float(r["policy_loss"]) == pytest.approx(-(np.log(0.8) - np.log(0.6)) / 2, rel=1e-5)
  assert float(r["value_loss"]) == pytest.approx(0.5 * (0.25 + 0.0) / 2)


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory):
  """The tiny config trained once: 2 seeds, 16 updates, one device."""
  workdir = str(tmp_path_factory.mktemp("ppo_run"))
  return workdir, trainer.train_and_evaluate(_config(), workdir)


def test_run_writes_returns_curves_and_eval_mode(ppo_run):
  workdir, summary = ppo_run
  details = summary["test_details"]
  assert len(details["final_return_per_seed"]) == 2 and details["final_return_mean"] > 0
  assert details["env_steps_per_sec"] > 0
  assert os.path.getsize(os.path.join(workdir, "training_curves.png")) > 0
  for name in ("train/episode_return_min", "train/approx_kl", "train/clip_fraction", "train/entropy"):
    assert len(metric(workdir, name)) == 4, name
  first, last = metric(workdir, "train/episode_return")[::3]
  # A random policy averages ~22; 4096 env steps per agent already learn something.
  assert last > 2 * first and last > 40, (first, last)
  result = trainer.train_and_evaluate(_config(), workdir, mode="eval", options={"num_episodes": 3})
  assert result["episodes"] == 3 and len(result["greedy_return_per_seed"]) == 2
  assert all(r >= 1 for r in result["sampled_return_per_seed"])
  # Two epochs of two minibatches per rollout: after the first minibatch the policy has moved.
  assert all(kl > 0 for kl in metric(workdir, "train/approx_kl"))


def test_reinforce_takes_one_unclipped_step_per_rollout(tmp_path):
  summary = trainer.train_and_evaluate(_config("reinforce_cartpole"), str(tmp_path))
  assert summary["step"] == 4 and len(summary["test_details"]["final_return_per_seed"]) == 2
  assert all(np.isfinite(summary["test"][key]) and summary["test"][key] >= 1
             for key in ("greedy_return_mean", "sampled_return_mean"))
  assert os.path.getsize(tmp_path / "training_curves.png") > 0
  assert all(np.isfinite(metric(str(tmp_path), "train/loss")))
  # One gradient step per rollout, taken at the policy that collected it: the ratio to that
  # policy is exactly 1, so nothing is clipped and the KL estimate is 0 (PPO's is not).
  assert metric(str(tmp_path), "train/approx_kl") == [0.0, 0.0]
  assert metric(str(tmp_path), "train/clip_fraction") == [0.0, 0.0]


def _after_dispatches(config, workdir, dispatches=2):
  """Parameters after `dispatches` jitted calls of the trainer's train function (no evaluation)."""
  run, state = trainer.build_run(config, workdir)
  run.checkpointer.close()
  state, _, step = trainer.restore_or_init(run, state)
  rng = jax.random.PRNGKey(0)   # Unused by this workload: every agent carries its own key.
  with trainer.parallel.mesh_context(run.mesh, config.mesh):
    for _ in range(dispatches):
      state, _, step = run.train_fn(state, {}, run.device_data, rng, jnp.asarray(step))
  return [np.asarray(x) for x in jax.tree.leaves(state["params"])], state


@pytest.mark.slow
def test_environments_split_over_eight_devices_equal_one_device(ppo_run, tmp_path):
  config = _config(**{"mesh.data": -1, "mesh.param_sharding": "logical", "mesh.rules": (("env", "data"),)})
  eight, state = _after_dispatches(config, str(tmp_path))
  assert len(state["obs"].sharding.device_set) == 8
  assert state["obs"].addressable_shards[0].data.shape == (2, 1, 4)   # [seeds, envs / 8, obs]
  for a, b in zip(params(ppo_run[0], step=8), eight, strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_two_seeds_vmapped_equal_each_run_alone(ppo_run, tmp_path):
  alone, _ = _after_dispatches(_config(**{"rl.num_seeds": 1, "seed": 1}), str(tmp_path))
  for a, b in zip(params(ppo_run[0], step=8), alone, strict=True):
    np.testing.assert_allclose(a[1], b[0], rtol=1e-5, atol=1e-6)


def test_stopped_and_resumed_equals_straight(ppo_run, tmp_path):
  stop_and_resume(lambda: _config(**{"train.eval_every_steps": 8}), str(tmp_path), step=8)
  assert_same_arrays(params(ppo_run[0]), params(str(tmp_path)))
  assert metric(ppo_run[0], "train/loss") == metric(str(tmp_path), "train/loss")


@pytest.mark.slow
def test_checkpoint_of_another_environment_is_refused(ppo_run):
  with pytest.raises(CheckpointError, match="env"):
    trainer.train_and_evaluate(_config(**{"env.name": "Acrobot-v1"}), ppo_run[0], mode="eval")


@pytest.mark.parametrize("overrides, message", [
    ({"env.name": "CartPole-v9"}, "Acrobot-v1"),                  # The valid names are listed.
    ({"rl.num_minibatches": 3}, "minibatches"),
    ({"env.name": "Pendulum-v1"}, "gaussian"),
    ({"model.head": "gaussian"}, "categorical"),
])
def test_bad_input_is_a_config_error(tmp_path, overrides, message):
  with pytest.raises(ConfigError, match=message):
    trainer.train_and_evaluate(_config(**overrides), str(tmp_path))


@pytest.mark.parametrize("head, conv, obs_shape", [("categorical", (16,), (10, 10, 4)), ("gaussian", (), (3,))])
def test_actor_critic_shapes(head, conv, obs_shape):
  from bigmodel_jax.models.actor_critic import ActorCritic
  model = ActorCritic(num_outputs=3, hidden=(8,), conv_features=conv, head=head, log_std_init=-0.5)
  obs = jnp.zeros((5,) + obs_shape)
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), obs))
  assert ("log_std" in variables["params"]) == (head == "gaussian")
  (out, log_std), value = model.apply(model.init(jax.random.PRNGKey(0), obs), obs)
  assert out.shape == log_std.shape == (5, 3) and value.shape == (5,)
  assert float(jnp.max(log_std)) == (-0.5 if head == "gaussian" else 0.0)


def test_conv3x3_as_matmul_equals_flax_conv():
  from bigmodel_jax.models.actor_critic import Conv3x3
  import flax.linen as nn
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 6, 5, 3))
  params = Conv3x3(4).init(jax.random.PRNGKey(0), x)
  params["params"]["bias"] = jnp.arange(4.0)
  expected = nn.Conv(4, (3, 3), padding="VALID").apply(params, x)
  np.testing.assert_allclose(Conv3x3(4).apply(params, x), expected, rtol=1e-5, atol=1e-5)


def test_linear_schedule_anneals_to_the_final_fraction():
  from bigmodel_jax.config import sections as config_sections
  from bigmodel_jax.engine import optim
  schedule = optim.make_schedule(config_sections.optimizer(learning_rate=2.0, schedule="linear",
                                                           final_lr_fraction=0.25), total_steps=10)
  np.testing.assert_allclose([float(schedule(s)) for s in (0, 5, 10, 20)], [2.0, 1.25, 0.5, 0.5], rtol=1e-6)
