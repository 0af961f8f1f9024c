"""Optimizers, schedules and classification metrics against hand-computed values."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from bigmodel_jax.data.pipeline import SupervisedSpec
from bigmodel_jax.workloads.supervised import metrics as classification_metrics
from bigmodel_jax.workloads.supervised import workload as supervised
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.engine.optim import make_optimizer, make_schedule
from bigmodel_jax.workloads.supervised.workload import per_example_loss, random_crop, random_flip
from conftest import make_config


def _opt_cfg(**kw):
  cfg = dict(name="sgd", learning_rate=0.1, schedule="constant", warmup_steps=0, final_lr_fraction=0.0,
             momentum=0.0, nesterov=False, b1=0.9, b2=0.999, eps=1e-8, rms_decay=0.9,
             weight_decay=0.0, grad_clip_norm=0.0)
  cfg.update(kw)
  return ml_collections.ConfigDict(cfg)


def test_plain_sgd_step_by_hand():
  tx = make_optimizer(_opt_cfg(), total_steps=10)
  params = {"w": jnp.array([1.0, -2.0])}
  updates, _ = tx.update({"w": jnp.array([0.5, 0.5])}, tx.init(params), params)
  np.testing.assert_allclose(optax.apply_updates(params, updates)["w"], [0.95, -2.05])


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_minimises_a_quadratic(name):
  tx = make_optimizer(_opt_cfg(name=name, momentum=0.9, learning_rate=0.05, weight_decay=1e-4), 200)
  params = {"w": jnp.array([[3.0, -2.0]])}
  state = tx.init(params)
  loss = lambda p: jnp.sum(jnp.square(p["w"] - 1.0))
  for _ in range(200):
    updates, state = tx.update(jax.grad(loss)(params), state, params)
    params = optax.apply_updates(params, updates)
  assert loss(params) < 1e-2


def test_gradient_clipping_caps_the_global_norm():
  tx = make_optimizer(_opt_cfg(learning_rate=1.0, grad_clip_norm=1.0), 10)
  params = {"w": jnp.zeros(2)}
  updates, _ = tx.update({"w": jnp.array([30.0, 40.0])}, tx.init(params), params)
  np.testing.assert_allclose(updates["w"], [-0.6, -0.8], rtol=1e-6)


def test_warmup_cosine_schedule_values():
  schedule = make_schedule(_opt_cfg(schedule="warmup_cosine", learning_rate=1.0, warmup_steps=10), 110)
  np.testing.assert_allclose([schedule(0), schedule(5), schedule(10), schedule(60), schedule(110)],
                             [0.0, 0.5, 1.0, 0.5, 0.0], atol=1e-6)


def test_constant_schedule_with_warmup():
  schedule = make_schedule(_opt_cfg(learning_rate=0.2, warmup_steps=4), 100)
  np.testing.assert_allclose([schedule(2), schedule(4), schedule(90)], [0.1, 0.2, 0.2], atol=1e-7)


def test_unknown_optimizer_and_schedule():
  with pytest.raises(ConfigError):
    make_optimizer(_opt_cfg(name="lion"), 10)
  with pytest.raises(ConfigError):
    make_schedule(_opt_cfg(schedule="exp"), 10)


def test_precision_recall_f1_by_hand():
  labels = np.array([0, 0, 0, 1, 1, 2])
  preds = np.array([0, 0, 1, 1, 2, 2])
  cm = classification_metrics.confusion_matrix(labels, preds, 3)
  np.testing.assert_array_equal(cm, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
  scores = classification_metrics.precision_recall_f1(cm)
  np.testing.assert_allclose(scores["precision"], [1.0, 0.5, 0.5])
  np.testing.assert_allclose(scores["recall"], [2 / 3, 0.5, 1.0])
  np.testing.assert_allclose(scores["f1"], [0.8, 0.5, 2 / 3])


def test_cross_entropy_and_mse_by_hand():
  logits = jnp.log(jnp.array([[0.5, 0.25, 0.25]]))
  np.testing.assert_allclose(per_example_loss(logits, jnp.array([1]), is_classification=True), [np.log(4)],
                             rtol=1e-6)
  np.testing.assert_allclose(per_example_loss(jnp.array([[1.0, 3.0]]), jnp.array([[2.0, 1.0]]),
                                              is_classification=False), [2.5])


def _asymmetric_images(n: int):
  """n different 4x4 images, none of them its own mirror image or equal to any shift of another."""
  return jnp.arange(n * 4 * 4, dtype=jnp.float32).reshape(n, 4, 4, 1) + 1


def _crop_offsets(x, cropped, padding: int) -> list:
  """Per image, the (row, column) offset of the zero-padded window that the crop equals exactly."""
  padded = np.pad(np.asarray(x), ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  h, w = x.shape[1:3]
  offsets = []
  for i in range(len(x)):
    found = [(r, c) for r in range(2 * padding + 1) for c in range(2 * padding + 1)
             if np.array_equal(cropped[i], padded[i, r:r + h, c:c + w])]
    assert len(found) == 1, f"image {i} is no window of its padded image: {cropped[i]}"
    offsets.append(found[0])
  return offsets


def test_random_crop_takes_a_window_per_image_at_every_offset():
  x = _asymmetric_images(32)
  cropped = random_crop(x, jax.random.PRNGKey(0), padding=1)
  assert cropped.shape == x.shape
  offsets = _crop_offsets(x, cropped, padding=1)
  # Each image draws its own offset (32 draws of 9 offsets: all alike has odds 9^-31) ...
  assert len(set(offsets)) > 1
  # ... and together, over a few keys, they use all 9 offsets, the centre (the image itself) too.
  for key in (1, 2, 3):
    offsets += _crop_offsets(x, random_crop(x, jax.random.PRNGKey(key), padding=1), padding=1)
  assert set(offsets) == {(r, c) for r in range(3) for c in range(3)}


def test_random_flip_mirrors_some_images_of_a_batch_and_keeps_the_others():
  x = _asymmetric_images(32)
  flipped = random_flip(x, jax.random.PRNGKey(3))
  assert flipped.shape == x.shape
  mirrored = [bool(np.array_equal(flipped[i], x[i, :, ::-1])) for i in range(len(x))]
  for i, is_mirrored in enumerate(mirrored):
    assert is_mirrored or np.array_equal(flipped[i], x[i]), i
  # Each image is flipped with probability 1/2 on its own: some are, some are not (odds 2^-31
  # that a fair draw gives all one or the other).
  assert 0 < sum(mirrored) < len(x), mirrored


def test_flip_tta_scores_an_image_and_its_mirror_alike():
  spec = SupervisedSpec((28, 28, 1), 10, 100, True)
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 28, 28, 1))
  targets = jnp.zeros(4, jnp.int32)

  def losses_of_image_and_mirror(flip_tta: bool):
    config = make_config("cnn_fashion_mnist", **{"supervised.flip_tta": flip_tta, "model.features": (8, 16),
                                                  "model.dense_features": 16})
    state = jax.jit(lambda rng: supervised.init_state(rng, {}, config=config, spec=spec))(jax.random.PRNGKey(0))
    score = jax.jit(lambda inputs: supervised.eval_step(state, {"inputs": inputs, "targets": targets}, None,
                                                        config=config, spec=spec)["loss"])
    return np.asarray(score(x)), np.asarray(score(x[:, :, ::-1]))

  with_tta, mirrored_with_tta = losses_of_image_and_mirror(True)
  np.testing.assert_allclose(with_tta, mirrored_with_tta, rtol=1e-5)
  # Without it the (untrained, asymmetric) network scores the two differently: the equality above
  # is the test-time augmentation's doing.
  plain, mirrored_plain = losses_of_image_and_mirror(False)
  assert np.abs(plain - mirrored_plain).max() > 1e-3
