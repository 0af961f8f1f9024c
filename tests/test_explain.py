"""--mode=explain: saliency images written, integrated-gradients completeness, the randomisation check."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.models.cnn import CNN
from bigmodel_jax.engine import trainer
from bigmodel_jax.workloads.supervised import explain
from conftest import make_config


def test_integrated_gradients_are_complete_on_a_relu_network():
  model = CNN(num_outputs=10, features=(8,), kernel_size=3, padding="SAME", dense_features=16)
  x = jax.random.normal(jax.random.PRNGKey(1), (8, 8, 1))
  params = model.init(jax.random.PRNGKey(0), x[None], train=False)["params"]
  logits = explain.make_logits_fn(model, {})
  baseline = jnp.full_like(x, -1.0)   # Not 0: a bias-free ReLU net is exact there in one step.
  ig = explain.integrated_gradients(logits, params, x, baseline, 3, steps=256)
  assert float(explain.completeness_error(logits, params, x, baseline, 3, ig)) < explain.COMPLETENESS_TOLERANCE
  # Too few steps misses it: the check can fail.
  coarse = explain.integrated_gradients(logits, params, x, baseline, 3, steps=1)
  assert float(explain.completeness_error(logits, params, x, baseline, 3, coarse)) > 1e-4


def test_rank_correlation_separates_equal_and_unrelated_maps():
  a = np.random.default_rng(0).random((8, 8))
  assert explain.rank_correlation(a, a) == pytest.approx(1.0)
  assert abs(explain.rank_correlation(a, np.random.default_rng(1).random((8, 8)))) < 0.3


def test_explain_mode_writes_maps_and_passes_its_checks(digits_run):
  workdir, _ = digits_run
  result = trainer.train_and_evaluate(make_config("cnn_digits"), workdir, mode="explain",
                                      options={"num_images": 4, "smoothgrad_samples": 4, "ig_steps": 128,
                                               "per_class": 3})
  for name in ("saliency.png", "saliency_per_class.png", "explain_summary.json"):
    assert os.path.getsize(os.path.join(workdir, name)) > 0
  assert result["completeness_met"], result["completeness_max_error"]
  assert result["randomisation_met"], result["randomisation_rank_correlation"]
