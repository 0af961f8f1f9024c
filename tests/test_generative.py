"""DCGAN / WGAN-GP / VAE: models, losses by hand, the Fréchet distance, and tiny runs end to end
(outputs, scores against a tiny classifier, sample mode, resume, 1 device = 8, bad input)."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.workloads.generative import scores as generative_scores
from bigmodel_jax.engine import trainer
from bigmodel_jax.engine.checkpoints import Checkpointer
from bigmodel_jax.errors import CheckpointError, ConfigError, TrainingDiverged
from bigmodel_jax.models.generative import DCGAN
from bigmodel_jax.workloads.generative import gan, vae
from conftest import (assert_same_arrays, copy_run, losses, make_config, metric, params, stop_and_resume,
                      truncate_to_first_checkpoint)

# ---- models and losses ---------------------------------------------------------------------

def test_generator_and_discriminator_shapes_and_ranges():
  def make(image_shape):
    return DCGAN(image_shape=image_shape, latent_size=100, generator_features=(16, 8),
                 discriminator_features=(8, 16))

  def run(model, z):
    variables = model.init(jax.random.PRNGKey(1), z, train=False)
    images, _ = model.apply(variables, z, train=True, method=DCGAN.generate, mutable=["batch_stats"])
    return images, model.apply(variables, images, train=False, method=DCGAN.discriminate)
  z = jax.random.normal(jax.random.PRNGKey(0), (3, 100)) * 10   # Large z: the images stay in [-1, 1].
  images, logits = jax.jit(lambda z: run(make((28, 28, 1)), z))(z)
  assert images.shape == (3, 28, 28, 1) and logits.shape == (3,)
  assert float(jnp.min(images)) >= -1.0 and float(jnp.max(images)) <= 1.0
  assert float(jnp.std(images)) > 0 and np.all(np.isfinite(logits))
  rgb_images, rgb_logits = jax.eval_shape(lambda z: run(make((32, 32, 3)), z), z)
  assert rgb_images.shape == (3, 32, 32, 3) and rgb_logits.shape == (3,)


def test_nonsaturating_losses_equal_their_formulas():
  real, fake = jnp.array([2.0, -1.0, 0.5]), jnp.array([-3.0, 0.0, 1.5])
  d = lambda logit: 1 / (1 + np.exp(-np.asarray(logit, np.float64)))
  want_d = -np.mean(np.log(d(real)) + np.log(1 - d(fake)))
  want_g = -np.mean(np.log(d(fake)))
  np.testing.assert_allclose(gan.nonsaturating_d_loss(real, fake), want_d, rtol=1e-6)
  np.testing.assert_allclose(gan.nonsaturating_g_loss(fake), want_g, rtol=1e-6)
  # Stable where the naive formula overflows.
  assert np.isfinite(gan.nonsaturating_d_loss(jnp.array([-200.0]), jnp.array([200.0])))


def test_gradient_penalty_equals_a_hand_computation():
  real = jnp.array([[1.0, 2.0], [0.0, -1.0]])
  fake = jnp.array([[3.0, 0.0], [2.0, 1.0]])
  eps = jnp.array([0.25, 0.5])
  # Linear critic w.x: the gradient is w everywhere, so the penalty is (|w| - 1)^2 = (5 - 1)^2.
  w = jnp.array([3.0, 4.0])
  np.testing.assert_allclose(gan.gradient_penalty(lambda x: x @ w, real, fake, eps), 16.0, rtol=1e-6)
  # Critic |x|^2 / 2: the gradient at the mixed point is the point itself.
  mixed = np.array([[0.25 * 1 + 0.75 * 3, 0.25 * 2], [1.0, 0.0]])     # [[2.5, 0.5], [1, 0]]
  want = np.mean((np.linalg.norm(mixed, axis=1) - 1) ** 2)
  got = gan.gradient_penalty(lambda x: 0.5 * jnp.sum(x * x, axis=1), real, fake, eps)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_vae_elbo_terms_on_a_fixed_case():
  logits = jnp.zeros((2, 2, 2, 1))                     # p = 1/2 everywhere: log 2 per pixel.
  targets = jnp.array([0.0, 1.0, 0.25, 1.0] * 2).reshape(2, 2, 2, 1)
  mean = jnp.array([[0.0, 0.0], [1.0, -2.0]])
  logvar = jnp.array([[0.0, 0.0], [0.0, np.log(2.0)]])
  recon, kl = vae.elbo_terms(logits, targets, mean, logvar)
  np.testing.assert_allclose(recon, [4 * np.log(2)] * 2, rtol=1e-6)
  # 0.5 * [(1 + 1 - 1 - 0) + (2 + 4 - 1 - log 2)]
  np.testing.assert_allclose(kl, [0.0, 0.5 * (1 + 5 - np.log(2))], rtol=1e-6)


def test_frechet_distance_is_zero_on_itself_and_grows_with_a_shift():
  x = np.random.default_rng(0).normal(size=(2000, 4))
  assert abs(generative_scores.frechet_distance(x, x)) < 1e-6
  distances = [generative_scores.frechet_distance(x, x + s) for s in (0.5, 1.0, 2.0)]
  # Same covariance: the distance is the squared shift of the mean, 4 s^2.
  np.testing.assert_allclose(distances, [1.0, 4.0, 16.0], rtol=1e-6)
  scaled = generative_scores.frechet_distance(x, 3 * x)   # Tr(S + 9S - 2*3S) = 4 Tr(S) ~ 16.
  assert 14 < scaled < 18


def test_class_distribution_score_bounds():
  confident = np.eye(4)[np.arange(400) % 4]
  assert generative_scores.class_distribution_score(confident) == pytest.approx(4.0, rel=1e-6)
  assert generative_scores.class_distribution_score(np.full((50, 4), 0.25)) == pytest.approx(1.0)


# ---- tiny runs end to end ------------------------------------------------------------------

@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
  """A few steps of the digits CNN on the 16x16 synthetic images: a (weak) scorer for the tiny runs."""
  config = make_config("cnn_digits", **{"data.name": "synthetic", "data.validation_size": 64,
                                        "train.num_steps": 8, "train.batch_size": 32, "mesh.data": 1})
  workdir = str(tmp_path_factory.mktemp("classifier"))
  trainer.train_and_evaluate(config, workdir)
  return workdir


@pytest.fixture(scope="module")
def gan_run(tmp_path_factory, classifier):
  workdir = str(tmp_path_factory.mktemp("gan"))
  config = make_config("dcgan_fashion_mnist", **{"generative.classifier_workdir": classifier})
  return workdir, trainer.train_and_evaluate(config, workdir)


def test_gan_run_writes_grids_curves_scores_and_samples(gan_run, classifier):
  workdir, summary = gan_run
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == ["step_0000006.png", "step_0000012.png"]
  for name in ("interpolation.png", "samples.png", "training_curves.png", "summary.json"):
    assert os.path.getsize(os.path.join(workdir, name)) > 0, name
  assert any(f.startswith("events") for f in os.listdir(os.path.join(workdir, "tensorboard")))
  fd = summary["test_details"]["frechet_distance"]
  assert set(fd) == {"real_vs_real", "untrained", "trained", "trained_raw_weights"}
  assert 0 <= fd["real_vs_real"] < fd["untrained"]
  assert summary["test"]["fd"] == fd["trained"]
  assert len(metric(workdir, "val/fd")) == 2 and len(metric(workdir, "train/g_loss")) == 4
  # A few steps on the synthetic images: the discriminator learns to tell them apart (without
  # dropout its loss starts lower and falls ~0.05 in 12 steps; a dead discriminator moves < 0.01).
  d_losses = metric(workdir, "train/d_loss")
  assert d_losses[-1] < d_losses[0] - 0.03, d_losses
  written = json.loads(open(os.path.join(workdir, "summary.json")).read())
  assert written["test_details"]["frechet_distance"] == pytest.approx(fd)
  config = make_config("dcgan_fashion_mnist", **{"generative.classifier_workdir": classifier})
  result = trainer.train_and_evaluate(config, workdir, mode="sample", options={"num_samples": 7})
  images = np.load(result["npy"])
  assert images.shape == (7, 16, 16, 1) and images.dtype == np.uint8 and images.std() > 0
  assert os.path.getsize(result["png"]) > 0


def test_gan_stopped_and_resumed_equals_straight_run(gan_run, tmp_path):
  straight = gan_run[0]
  # Without a classifier: scoring samples is evaluation, it does not change what is trained.
  stop_and_resume(lambda: make_config("dcgan_fashion_mnist"), str(tmp_path), step=6)
  assert_same_arrays(params(straight), params(str(tmp_path)))
  for key in ("train/d_loss", "train/g_loss"):
    assert metric(straight, key) == metric(str(tmp_path), key)


@pytest.mark.slow
def test_gan_steps_on_one_device_equal_those_on_eight(gan_run, tmp_path):
  """The straight run's step-6 checkpoint (8 devices) continued on one device: the checkpoint
  restores onto another mesh, and steps 7..12 on one device equal those on eight within float
  tolerance."""
  straight = gan_run[0]
  moved = copy_run(straight, tmp_path / "moved")
  assert truncate_to_first_checkpoint(moved) == 6
  one = make_config("dcgan_fashion_mnist", **{"mesh.data": 1})
  evaluated = []
  trainer.train_and_evaluate(one, moved, on_eval=lambda step, *_: evaluated.append(step))
  assert evaluated == [12]
  np.testing.assert_allclose(metric(straight, "train/g_loss"), metric(moved, "train/g_loss"), rtol=1e-4)
  np.testing.assert_allclose(metric(straight, "train/d_loss"), metric(moved, "train/d_loss"), rtol=1e-4)
  assert_same_arrays(params(straight), params(moved), rtol=1e-3, atol=1e-5)


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
  """One straight vae_fashion_mnist:tiny run on 8 devices: (workdir, summary)."""
  workdir = str(tmp_path_factory.mktemp("vae"))
  return workdir, trainer.train_and_evaluate(make_config("vae_fashion_mnist"), workdir)


def test_vae_trains_and_samples(vae_run):
  workdir, summary = vae_run
  elbo = losses(workdir)
  assert elbo[-1] < elbo[0]
  assert np.isfinite(summary["test"]["loss"])
  assert os.path.getsize(os.path.join(workdir, "reconstructions.png")) > 0
  result = trainer.train_and_evaluate(make_config("vae_fashion_mnist"), workdir, mode="sample",
                                      options={"num_samples": 3})
  samples = np.load(result["npy"])
  assert samples.shape == (3, 16, 16, 1) and samples.std() > 0


def test_vae_stopped_and_resumed_equals_straight_run(vae_run, tmp_path):
  stop_and_resume(lambda: make_config("vae_fashion_mnist"), str(tmp_path), step=6)
  assert_same_arrays(params(vae_run[0]), params(str(tmp_path)))
  assert losses(vae_run[0]) == losses(str(tmp_path))


@pytest.mark.slow
def test_vae_on_one_device_equals_eight(vae_run, tmp_path):
  summary = trainer.train_and_evaluate(make_config("vae_fashion_mnist", **{"mesh.data": 1}), str(tmp_path))
  np.testing.assert_allclose(losses(vae_run[0]), losses(str(tmp_path)), rtol=1e-4)
  assert_same_arrays(params(vae_run[0]), params(str(tmp_path)), rtol=1e-3, atol=1e-5)
  assert summary["test"]["loss"] == pytest.approx(vae_run[1]["test"]["loss"], rel=1e-4)


@pytest.mark.slow
def test_wgan_gp_nan_stops_naming_the_step_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
  real_update = gan.g_update

  def poisoned(*args):   # The generator's loss turns NaN at step 8.
    state, metrics = real_update(*args)
    return state, {"g_loss": jnp.where(state.step >= 8, jnp.nan, metrics["g_loss"])}
  monkeypatch.setattr(gan, "g_update", poisoned)
  with pytest.raises(TrainingDiverged, match="g_loss is nan at step 8.*Last good checkpoint: step 6"):
    trainer.train_and_evaluate(make_config("wgan_gp_fashion_mnist", **{"mesh.data": 1}), str(tmp_path))
  assert Checkpointer(str(tmp_path), keep=3, read_only=True).all_steps() == [6]
  penalties = metric(str(tmp_path), "train/gradient_penalty")   # The WGAN-GP steps before it.
  assert len(penalties) == 2 and all(np.isfinite(penalties)) and penalties[0] > 0


# ---- bad input -----------------------------------------------------------------------------

def test_missing_or_wrong_classifier_is_one_line_with_the_fix(tmp_path, gan_run):
  missing = str(tmp_path / "no_such_run")
  with pytest.raises(ConfigError, match="train it first: python -m launch.main --config=configs/cnn_fashion"):
    trainer.train_and_evaluate(make_config("dcgan_fashion_mnist", **{"generative.classifier_workdir": missing}),
                               str(tmp_path / "a"))
  with pytest.raises(ConfigError, match="is a 'gan' run, not a 'supervised' run"):
    trainer.train_and_evaluate(make_config("dcgan_fashion_mnist", **{"generative.classifier_workdir": gan_run[0]}),
                               str(tmp_path / "b"))


def test_bad_config_values_are_config_errors(tmp_path):
  for overrides, match in [({"data.normalize": True}, "data.normalize"),
                           ({"gan.loss": "hinge"}, "gan.loss"),
                           ({"d_optimizer.name": "adamax"}, "d_optimizer.name"),
                           ({"model.generator_features": (8, 8, 8, 8, 8)}, "cannot be made")]:
    with pytest.raises(ConfigError, match=match):
      trainer.train_and_evaluate(make_config("dcgan_fashion_mnist", **overrides), str(tmp_path / match))


@pytest.mark.slow
def test_checkpoint_of_another_latent_size_is_refused(gan_run, tmp_path):
  with pytest.raises(CheckpointError, match="latent_size"):
    trainer.train_and_evaluate(make_config("dcgan_fashion_mnist", **{"model.latent_size": 9, "mesh.data": 1}),
                               gan_run[0], mode="sample")
