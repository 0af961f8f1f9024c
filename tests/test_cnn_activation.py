"""`model.activation` of the CNN: ReLU by default (existing configs unchanged), tanh for DP-SGD,
a bad name refused as one line before the workdir exists."""
import jax
import jax.numpy as jnp
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


def test_tanh_is_used_in_every_hidden_layer():
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 8, 8, 1))
  relu, tanh = _logits("relu", x), _logits("tanh", x)
  assert not np.allclose(relu, tanh)
  # Same weights: with tanh every hidden unit is in (-1, 1), so the logits are bounded by the last
  # layer's absolute row sums plus its bias.
  config = load_config("cnn_digits", "tiny")
  params = build_model(config.model, num_outputs=10).init(jax.random.PRNGKey(0), x, train=False)["params"]
  last = params[sorted(k for k in params if k.startswith("Dense"))[-1]]
  bound = jnp.abs(last["kernel"]).sum(0) + jnp.abs(last["bias"])
  assert bool(jnp.all(jnp.abs(tanh) <= bound + 1e-5))


def test_an_unknown_activation_is_refused_before_the_workdir_exists(tmp_path):
  workdir = str(tmp_path / "fresh")
  with pytest.raises(ConfigError, match=r"model.activation='swish' is not allowed; expected one of"):
    trainer.train_and_evaluate(make_config("cnn_digits", **{"model.activation": "swish"}), workdir)
  assert file_checksums(workdir) is None
