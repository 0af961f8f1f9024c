"""Model properties: shapes, parameter counts by hand, pooling, mixed precision, the registry."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model
from bigmodel_jax.models.cnn import CNN
from bigmodel_jax.models.common import BatchNorm, max_pool_2x2
from bigmodel_jax.models.resnet import ResNet


def _count(params):
  return sum(x.size for x in jax.tree.leaves(params))


def _init(model, shape):
  """The model's variables for inputs of `shape`, initialised in one compiled call."""
  return jax.jit(lambda x: model.init(jax.random.PRNGKey(0), x, train=False))(jnp.zeros(shape))


def _shapes(model, shape):
  """The shapes and dtypes of the model's variables, traced without compiling or computing."""
  return jax.eval_shape(lambda x: model.init(jax.random.PRNGKey(0), x, train=False), jnp.zeros(shape))


def test_source_cnn_parameter_count_by_hand():
  # conv5x5 1->32, pool, conv5x5 32->64, pool ('VALID': 28->24->12->8->4), dense 4*4*64->128, dense 128->10.
  expected = (25 * 32 + 32) + (25 * 32 * 64 + 64) + (4 * 4 * 64 * 128 + 128) + (128 * 10 + 10)
  assert _count(_shapes(CNN(num_outputs=10), (1, 28, 28, 1))["params"]) == expected == 184586


def test_cnn_on_cifar_shaped_input_gives_logits():
  model = CNN(num_outputs=10, kernel_size=3, padding="SAME")
  variables = _init(model, (1, 32, 32, 3))
  logits = jax.jit(lambda x: model.apply(variables, x, train=False))(jnp.ones((4, 32, 32, 3)))
  assert logits.shape == (4, 10) and logits.dtype == jnp.float32 and np.all(np.isfinite(logits))


def test_max_pool_matches_flax_max_pool_including_odd_sizes():
  x = jax.random.normal(jax.random.PRNGKey(1), (2, 7, 9, 3))
  np.testing.assert_array_equal(max_pool_2x2(x), nn.max_pool(x, (2, 2), (2, 2)))


def test_batch_norm_matches_flax_batch_norm_in_training_and_eval():
  x = jax.random.normal(jax.random.PRNGKey(6), (4, 5, 5, 3)) * 2 + 0.5
  ours, theirs = BatchNorm(use_running_average=False), nn.BatchNorm(use_running_average=False, momentum=0.9)
  variables = theirs.init(jax.random.PRNGKey(7), x)
  assert jax.tree.structure(ours.init(jax.random.PRNGKey(7), x)) == jax.tree.structure(variables)
  variables = {"params": {"scale": jnp.array([1.0, 2.0, 0.5]), "bias": jnp.array([0.0, -1.0, 3.0])},
               "batch_stats": variables["batch_stats"]}
  loss = lambda module, v: lambda p: jnp.sum(jnp.sin(module.apply(
      {"params": p, "batch_stats": v["batch_stats"]}, x, mutable=["batch_stats"])[0]))
  (y_ours, s_ours), (y_theirs, s_theirs) = (m.apply(variables, x, mutable=["batch_stats"]) for m in (ours, theirs))
  np.testing.assert_allclose(y_ours, y_theirs, atol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-5), s_ours, s_theirs)
  grads = [jax.grad(loss(m, variables))(variables["params"]) for m in (ours, theirs)]
  jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, atol=1e-4), *grads)
  frozen = {"params": variables["params"], "batch_stats": s_ours["batch_stats"]}
  np.testing.assert_allclose(BatchNorm(use_running_average=True).apply(frozen, x),
                             nn.BatchNorm(use_running_average=True).apply(frozen, x), atol=1e-5)


def test_vgg_style_stages_have_two_convolutions_before_each_pool():
  model = CNN(num_outputs=10, features=(8, 16), kernel_size=3, padding="SAME", convs_per_stage=2,
              dense_features=32, batch_norm=True)
  params = _shapes(model, (1, 28, 28, 1))["params"]
  bn = lambda c: 2 * c
  expected = (9 * 8 + bn(8)) + (9 * 8 * 8 + bn(8)) + (9 * 8 * 16 + bn(16)) + (9 * 16 * 16 + bn(16)) \
      + (7 * 7 * 16 * 32 + 32) + (32 * 10 + 10)
  assert _count(params) == expected


def test_cnn_without_convolutions_is_a_config_error():
  with pytest.raises(ConfigError, match="convs_per_stage"):
    _shapes(CNN(num_outputs=10, convs_per_stage=0), (1, 28, 28, 1))


def test_dropout_is_active_only_in_training():
  model = CNN(num_outputs=10, dropout=0.5)
  variables = _init(model, (1, 28, 28, 1))
  x = jax.random.normal(jax.random.PRNGKey(2), (3, 28, 28, 1))
  apply = jax.jit(lambda key, train: model.apply(variables, x, train=train, rngs={"dropout": key}),
                  static_argnums=1)
  # In eval, different dropout keys give the same output; in training they do not.
  np.testing.assert_array_equal(apply(jax.random.PRNGKey(3), False), apply(jax.random.PRNGKey(4), False))
  assert not np.allclose(apply(jax.random.PRNGKey(3), True), apply(jax.random.PRNGKey(4), True))


def test_resnet_tracks_batch_statistics_in_training():
  model = ResNet(num_outputs=10, stage_sizes=(1, 1), widths=(8, 16))
  variables = _init(model, (1, 28, 28, 1))
  assert "batch_stats" in variables
  x = jax.random.normal(jax.random.PRNGKey(5), (4, 28, 28, 1)) * 3 + 1
  logits, updated = jax.jit(lambda x: model.apply(variables, x, train=True, mutable=["batch_stats"]))(x)
  assert logits.shape == (4, 10)
  changed = jax.tree.map(lambda a, b: not np.allclose(a, b), variables["batch_stats"], updated["batch_stats"])
  assert all(jax.tree.leaves(changed))


def test_bfloat16_computes_in_bfloat16_with_float32_params():
  model = CNN(num_outputs=10, dtype="bfloat16")
  variables = _shapes(model, (1, 28, 28, 1))
  assert all(p.dtype == jnp.float32 for p in jax.tree.leaves(variables))

  def intermediates(model):   # The dtypes of what each layer computes, traced, not run.
    return jax.eval_shape(lambda v, x: model.apply(v, x, train=False, capture_intermediates=True,
                                                   mutable=["intermediates"])[1]["intermediates"],
                          variables, jnp.ones((2, 28, 28, 1)))
  inter = intermediates(model)
  assert inter["Conv_0"]["__call__"][0].dtype == jnp.bfloat16
  assert inter["Dense_0"]["__call__"][0].dtype == jnp.bfloat16
  # The dtype setting is what makes the difference: float32 computes in float32.
  assert intermediates(CNN(num_outputs=10))["Conv_0"]["__call__"][0].dtype == jnp.float32


def test_registry_builds_from_config_and_rejects_unknown_options():
  cfg = ml_collections.ConfigDict({"name": "mlp", "hidden": (2,), "activation": "sigmoid",
                                   "dropout": 0.0, "dtype": "float32"})
  model = build_model(cfg, num_outputs=1)
  params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 2)), train=False)["params"]
  assert _count(params) == (2 * 2 + 2) + (2 * 1 + 1)   # The source's 2-2-1 network.
  cfg.depth = 3
  with pytest.raises(ConfigError, match="depth"):
    build_model(cfg, num_outputs=1)
