"""Optimizers, schedules and classification metrics against hand-computed values."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from bigmodel_jax.workloads.supervised import metrics as classification_metrics
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.engine.optim import make_optimizer, make_schedule
from bigmodel_jax.workloads.supervised.workload import per_example_loss, random_crop, random_flip


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


def test_augmentations_keep_shape_and_content():
  x = jnp.arange(2 * 4 * 4, dtype=jnp.float32).reshape(2, 4, 4, 1) + 1
  cropped = random_crop(x, jax.random.PRNGKey(0), padding=1)
  assert cropped.shape == x.shape
  # Every crop is a shifted window of the zero-padded image: it equals that window exactly.
  padded = np.pad(np.asarray(x), ((0, 0), (1, 1), (1, 1), (0, 0)))
  for i in range(2):
    windows = [padded[i, r:r + 4, c:c + 4] for r in range(3) for c in range(3)]
    assert any(np.array_equal(cropped[i], w) for w in windows)
  # Over many keys the offsets vary, and the centre crop (the image itself) is among them.
  many = [random_crop(x, jax.random.PRNGKey(k), padding=1)[0] for k in range(20)]
  assert len({np.asarray(m).tobytes() for m in many}) > 2
  flipped = random_flip(x, jax.random.PRNGKey(3))
  for i in range(2):
    assert np.array_equal(flipped[i], x[i]) or np.array_equal(flipped[i], x[i, :, ::-1])


def test_flip_tta_scores_an_image_and_its_mirror_alike():
  from bigmodel_jax.data.pipeline import SupervisedSpec
  from bigmodel_jax.workloads.supervised import workload as supervised
  from conftest import load_config
  config = load_config("cnn_fashion_mnist", "tiny")
  with config.unlocked():
    config.supervised.flip_tta = True
  spec = SupervisedSpec((28, 28, 1), 10, 100, True)
  state = supervised.init_state(jax.random.PRNGKey(0), {}, config=config, spec=spec)
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 28, 28, 1))
  batch = {"inputs": x, "targets": jnp.zeros(4, jnp.int32)}
  mirrored = {"inputs": x[:, :, ::-1], "targets": batch["targets"]}
  a = supervised.eval_step(state, batch, None, config=config, spec=spec)
  b = supervised.eval_step(state, mirrored, None, config=config, spec=spec)
  np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-5)
