"""`model.activation` of the CNN: ReLU by default (existing configs unchanged), tanh for DP-SGD,
a bad name refused as one line before the workdir exists."""
import flax.linen as nn
import jax
import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model
from conftest import file_checksums, load_config, make_config


def _logits(activation, x):
  config = load_config("cnn_digits", "tiny")
  config.model.activation = activation
  model = build_model(config.model, num_outputs=10)
  params = model.init(jax.random.PRNGKey(0), x, train=False)
  return model.apply(params, x, train=False)


def test_the_default_is_relu_so_existing_configs_are_unchanged():
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 8, 8, 1))
  assert load_config("cnn_fashion_mnist").model.activation == "relu"
  default = build_model(load_config("cnn_digits", "tiny").model, num_outputs=10)
  params = default.init(jax.random.PRNGKey(0), x, train=False)
  np.testing.assert_array_equal(default.apply(params, x, train=False), _logits("relu", x))


def _layer_inputs(activation, x):
  """The input of every Conv / Dense call of the CNN, in call order."""
  config = load_config("cnn_digits", "tiny")
  config.model.activation = activation
  model = build_model(config.model, num_outputs=10)
  params = model.init(jax.random.PRNGKey(0), x, train=False)
  seen = []

  def record(next_fun, args, kwargs, context):
    if context.method_name == "__call__" and isinstance(context.module, (nn.Conv, nn.Dense)):
      seen.append(np.asarray(args[0]))
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    model.apply(params, x, train=False)
  return seen


def test_tanh_is_used_in_every_hidden_layer():
  # Large inputs: after tanh every layer past the first sees values in [-1, 1], negative ones too;
  # after ReLU they would be >= 0 and large.
  x = 100.0 * jax.random.normal(jax.random.PRNGKey(1), (4, 8, 8, 1))
  assert not np.allclose(_logits("relu", x), _logits("tanh", x))
  hidden = _layer_inputs("tanh", x)[1:]
  assert len(hidden) == len(load_config("cnn_digits", "tiny").model.features) + 1
  for h in hidden:
    assert np.abs(h).max() <= 1.0 and h.min() < 0


def test_an_unknown_activation_is_refused_before_the_workdir_exists(tmp_path):
  workdir = str(tmp_path / "fresh")
  with pytest.raises(ConfigError, match=r"model.activation='swish' is not allowed; expected one of"):
    trainer.train_and_evaluate(make_config("cnn_digits", **{"model.activation": "swish"}), workdir)
  assert file_checksums(workdir) is None


def test_the_dp_config_trains_with_tanh_and_stops_at_its_target_epsilon():
  config = load_config("cnn_fashion_mnist_dp")
  assert config.model.activation == "tanh" and not config.model.batch_norm
  assert config.dp.target_epsilon == 3.0 and config.dp.delta == 1e-5
