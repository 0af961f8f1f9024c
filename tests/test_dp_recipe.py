"""The DP-SGD recipe as measured (configs/cnn_fashion_mnist_dp.py): its epsilon is dp-accounting's
own for the same noise, sampling rate and steps, and the run stops at the step the accountant allows."""
import dp_accounting
import pytest

from bigmodel_jax.engine import dp
from conftest import load_config

# Fashion-MNIST's 55000 training images (5000 held out for validation) in batches of 1024.
STEPS_PER_EPOCH = 55000 // 1024


def _library_epsilon(sigma, rate, steps, delta):
  accountant = dp_accounting.rdp.RdpAccountant()
  accountant.compose(dp_accounting.PoissonSampledDpEvent(rate, dp_accounting.GaussianDpEvent(sigma)), steps)
  return accountant.get_epsilon(delta)


def test_the_recipe_stops_at_step_514_where_the_accountant_says_epsilon_3_is_spent():
  cfg = load_config("cnn_fashion_mnist_dp").dp
  rate = 1 / STEPS_PER_EPOCH
  planned = load_config("cnn_fashion_mnist_dp").train.num_epochs * STEPS_PER_EPOCH
  steps = dp.steps_within(cfg, rate, planned)
  assert steps == 514 < planned
  assert dp.epsilon(cfg.noise_multiplier, rate, steps, cfg.delta) == pytest.approx(
      _library_epsilon(cfg.noise_multiplier, rate, steps, cfg.delta), rel=1e-12)
  assert _library_epsilon(cfg.noise_multiplier, rate, steps, cfg.delta) <= 3.0
  assert _library_epsilon(cfg.noise_multiplier, rate, steps + 1, cfg.delta) > 3.0
