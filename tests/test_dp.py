"""DP-SGD: the per-example clipping bound, the noise scale, the accountant, the run stopping at its epsilon."""
import dp_accounting
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bigmodel_jax.engine import dp, trainer
from bigmodel_jax.errors import ConfigError
from conftest import make_config

DP_TINY = {"dp.clip_norm": 1.0, "dp.noise_multiplier": 1.1, "model.dropout": 0.0}


def _cfg(**changes):
  return ml_collections.ConfigDict({**{k: d for k, (d, _) in dp.DP_SECTION.items()}, **changes})


def _aggregate(grads, clip, sigma):
  tx = dp.private_aggregate(_cfg(clip_norm=clip, noise_multiplier=sigma), seed=0)
  return tx.update(grads, tx.init(None))[0]


def test_each_example_is_clipped_to_the_bound_before_noise():
  grads = {"w": jnp.array([[30.0, 40.0], [0.3, 0.4], [-6.0, 8.0]])}     # Norms 50, 0.5, 10.
  mean = _aggregate(grads, clip=1.0, sigma=0.0)["w"]
  expected = (np.array([0.6, 0.8]) + np.array([0.3, 0.4]) + np.array([-0.6, 0.8])) / 3
  np.testing.assert_allclose(mean, expected, rtol=1e-6)


def test_noise_has_the_configured_scale():
  grads = {"w": jnp.zeros((4, 20000))}
  noise = np.asarray(_aggregate(grads, clip=2.0, sigma=1.5)["w"])
  # Sum of clipped gradients + N(0, (sigma C)^2), divided by the batch of 4.
  assert noise.std() == pytest.approx(1.5 * 2.0 / 4, rel=0.03)


def test_epsilon_matches_the_accountant_on_a_fixed_case():
  accountant = dp_accounting.rdp.RdpAccountant()
  accountant.compose(dp_accounting.PoissonSampledDpEvent(256 / 60000, dp_accounting.GaussianDpEvent(1.1)), 3000)
  assert dp.epsilon(1.1, 256 / 60000, 3000, 1e-5) == pytest.approx(accountant.get_epsilon(1e-5), rel=1e-9)
  assert dp.epsilon(1.1, 256 / 60000, 3000, 1e-5) > dp.epsilon(1.1, 256 / 60000, 1000, 1e-5)


def test_steps_within_stops_at_the_last_step_under_the_target():
  cfg = _cfg(noise_multiplier=1.0, target_epsilon=2.0)
  steps = dp.steps_within(cfg, 0.01, 100000, multiple=5)
  assert steps % 5 == 0
  assert dp.epsilon(1.0, 0.01, steps, 1e-5) <= 2.0 < dp.epsilon(1.0, 0.01, steps + 5, 1e-5)


def test_batch_norm_with_dp_is_one_error():
  with pytest.raises(ConfigError, match="batch_norm"):
    dp.check(make_config("cnn_fashion_mnist", **{"dp.clip_norm": 1.0}))


def test_dp_run_reports_epsilon_in_summary_and_logs(tmp_path):
  summary = trainer.train_and_evaluate(make_config("cnn_digits", **DP_TINY), str(tmp_path))
  privacy = summary["privacy"]
  assert privacy["steps"] == 16
  assert privacy["epsilon"] == pytest.approx(dp.epsilon(1.1, privacy["sampling_rate"], 16, 1e-5))
  logged = [row for row in map(eval_json, open(tmp_path / "metrics.jsonl")) if "privacy/epsilon" in row]
  assert logged and logged[-1]["privacy/epsilon"] == pytest.approx(privacy["epsilon"])


def test_dp_run_stops_at_its_target_epsilon(tmp_path):
  rate = 1 / 19                                  # digits: 19 batches of 64 an epoch.
  target = (dp.epsilon(1.1, rate, 12, 1e-5) + dp.epsilon(1.1, rate, 13, 1e-5)) / 2
  config = make_config("cnn_digits", **DP_TINY, **{"dp.target_epsilon": target, "train.num_steps": 400})
  summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["step"] == 12
  assert summary["privacy"]["epsilon"] <= target


def eval_json(line):
  import json
  return json.loads(line)
