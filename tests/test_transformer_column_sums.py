"""The Transformer's biases and norms with their column sums as matmuls: the forward pass is flax's, bit
for bit, and the gradients are the plain ones up to float rounding."""
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.models import transformer as tf

SHAPES = [((3, 4, 5, 2, 6), (3, 1, 1, 2, 6)),   # The fused QKV bias: summed over batch and time.
          ((4, 5, 6), (6,)),                    # A dense bias: summed over every leading axis.
          ((4, 5, 6), (1, 5, 6))]               # The position table: summed over the batch.


@pytest.mark.parametrize("g_shape,shape", SHAPES)
def test_sum_rows_as_matmul_is_the_column_sum(g_shape, shape):
  g = jax.random.normal(jax.random.PRNGKey(0), g_shape)
  lead = len(g_shape) - len(shape)
  axes = tuple(range(lead)) + tuple(a + lead for a, n in enumerate(shape) if n == 1 and g_shape[a + lead] != 1)
  expected = jnp.sum(g, axis=axes).reshape(shape)
  np.testing.assert_allclose(tf.sum_rows_as_matmul(g, shape), expected, rtol=1e-5, atol=1e-5)


def test_sum_over_separate_runs_of_axes_is_refused():
  with pytest.raises(ValueError, match="one run of axes"):
    tf.sum_rows_as_matmul(jnp.ones((2, 3, 4)), (1, 3, 1))


@pytest.mark.parametrize("g_shape,shape", SHAPES)
def test_add_bias_has_the_gradient_of_a_plain_add(g_shape, shape):
  x = jax.random.normal(jax.random.PRNGKey(1), g_shape)
  b = jax.random.normal(jax.random.PRNGKey(2), shape)
  w = jax.random.normal(jax.random.PRNGKey(3), g_shape)
  ours = jax.grad(lambda x, b: jnp.sum(w * tf.add_bias(x, b) ** 2), argnums=(0, 1))(x, b)
  plain = jax.grad(lambda x, b: jnp.sum(w * (x + b) ** 2), argnums=(0, 1))(x, b)
  assert ours[1].shape == b.shape
  for a, e in zip(ours, plain):
    np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind,flax_norm", [("layernorm", nn.LayerNorm), ("rmsnorm", nn.RMSNorm)])
def test_norm_is_flax_forward_bit_for_bit_with_the_same_gradients(kind, flax_norm):
  x = jax.random.normal(jax.random.PRNGKey(4), (3, 7, 16)) * 3 + 1
  ours, theirs = tf.Norm(kind, jnp.float32), flax_norm()
  params = ours.init(jax.random.PRNGKey(5), x)["params"]
  params = jax.tree.map(lambda p: p + jax.random.normal(jax.random.PRNGKey(6), p.shape), nn.unbox(params))
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, nn.unbox(theirs.init(jax.random.PRNGKey(5), x)))[
      "params"]
  np.testing.assert_array_equal(ours.apply({"params": params}, x), theirs.apply({"params": params}, x))
  w = jax.random.normal(jax.random.PRNGKey(7), x.shape)
  grad = lambda m: jax.grad(lambda p, x: jnp.sum(w * m.apply({"params": p}, x) ** 2), argnums=(0, 1))(params, x)
  for a, e in zip(jax.tree.leaves(grad(ours)), jax.tree.leaves(grad(theirs))):
    np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4)


def test_dense_is_flax_dense_bit_for_bit():
  x = jax.random.normal(jax.random.PRNGKey(8), (2, 5, 12))
  ours = tf.Dense(20, ("embed", "mlp"), jnp.float32)
  params = nn.unbox(ours.init(jax.random.PRNGKey(9), x)["params"])
  params["bias"] = params["bias"] + 0.5
  np.testing.assert_array_equal(ours.apply({"params": params}, x), nn.Dense(20).apply({"params": params}, x))
