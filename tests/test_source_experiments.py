"""The source material's experiments as configs: the three-conv CNN (pool skipped after a stage),
the 2-2-1 sigmoid MLP on XOR by SGD, and their `:fashion_mnist` variants."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model
from conftest import load_config, make_config


def _param_count(model_cfg, shape):
  model = build_model(model_cfg, num_outputs=10)
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape), train=False))
  return sum(int(np.prod(p.shape)) for p in jax.tree_util.tree_leaves(variables["params"]))


def test_three_conv_cnn_has_the_sources_122570_parameters_on_cifar10():
  # 896 + 18496 + 36928 (convs) + 4*4*64*64 + 64 (dense 64) + 650 (logits): 32 -> 30 -> 15 -> 13 -> 6 -> 4.
  assert _param_count(load_config("cnn_cifar10").model, (1, 32, 32, 3)) == 122570


def test_pooling_after_every_stage_stays_the_default():
  # conv 5x5 32 -> pool -> conv 5x5 64 -> pool on 28x28: 28 -> 24 -> 12 -> 8 -> 4, so 4*4*64 into dense 128.
  assert _param_count(load_config("cnn_mnist").model, (1, 28, 28, 1)) == 832 + 51264 + 1024 * 128 + 128 + 1290


def test_a_pool_flag_per_stage_is_required():
  cfg = load_config("cnn_cifar10").model
  cfg.unlock()
  cfg.pool_after = (True, False)
  with pytest.raises(ConfigError, match="model.pool_after"):
    _param_count(cfg, (1, 32, 32, 3))


@pytest.mark.slow
def test_three_conv_cnn_trains_on_fashion_mnist(tmp_path):
  config = make_config("cnn_cifar10", **{"data.name": "fashion_mnist", "data.tfds_name": "",
                                         "data.validation_size": 64, "train.batch_size": 16})
  summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["step"] == 20 and np.isfinite(summary["test"]["loss"])
  assert summary["test"]["accuracy"] > 0.2   # 20 steps of 16 lift it well above chance (0.1).


def test_fashion_mnist_variant_changes_only_the_data():
  source, variant = load_config("cnn_cifar10"), load_config("cnn_cifar10", "fashion_mnist")
  assert variant.data.name == "fashion_mnist" and variant.model == source.model and variant.train == source.train


def test_two_two_one_sigmoid_mlp_fits_xor_by_sgd(tmp_path):
  config = load_config("mlp_xor")
  assert (config.model.hidden, config.model.activation, config.optimizer.name) == ((2,), "sigmoid", "sgd")
  summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["test"]["mse"] < 1e-3   # All four rows within ~0.03 of 0 / 1.


def test_xor_tiny_variant_runs(tmp_path):
  summary = trainer.train_and_evaluate(make_config("mlp_xor"), str(tmp_path))
  assert summary["step"] == 40 and np.isfinite(summary["test"]["mse"])
