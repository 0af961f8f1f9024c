"""Coverage and reconstruction scores of the generative workloads, and the image-folder source:
precision / recall and class frequencies on hand-built sets, PSNR / SSIM on hand-computed images,
the discriminator's accuracy from its logits, the class-row grid, and a folder of generated images
read and trained on end to end."""
import json
import os
import types

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from PIL import Image

from bigmodel_jax.data import sources
from bigmodel_jax.engine import trainer
from bigmodel_jax.errors import DataError
from bigmodel_jax.workloads.generative import common as generative
from bigmodel_jax.workloads.generative import gan, vae
from bigmodel_jax.workloads.generative import scores as generative_scores
from conftest import launch, make_config, metric, one_error_line

# ---- precision, recall and class frequencies -------------------------------------------------


def _on_a_line(*xs):
  return np.array([[x, 0.0] for x in xs])


def test_precision_and_recall_of_sets_with_known_answers():
  real = _on_a_line(*range(10))
  # k = 3 balls: the real ends have radius 3, the rest 2, so every fake point 0..4 is inside (precision 1).
  # Fake 0..4: balls of radius 3 at 0 and 4, 2 between; they cover the real points 0..7, not 8 and 9.
  result = generative_scores.precision_recall(real, _on_a_line(0, 1, 2, 3, 4), k=3)
  assert result == {"precision": 1.0, "recall": 0.8}
  far = generative_scores.precision_recall(real, _on_a_line(*range(1000, 1010)), k=3)
  assert far == {"precision": 0.0, "recall": 0.0}
  same = generative_scores.precision_recall(real, real, k=3)
  assert same == {"precision": 1.0, "recall": 1.0}


def test_knn_radius_is_the_kth_other_point():
  np.testing.assert_allclose(generative_scores.knn_radii(_on_a_line(0, 1, 3, 7), k=2), [3, 2, 3, 6])


def test_class_frequencies_count_the_most_probable_class():
  probs = np.array([[0.9, 0.1, 0.0], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8]])
  np.testing.assert_allclose(generative_scores.class_frequencies(probs), [0.5, 0.25, 0.25])
  missing = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1]])
  table = generative.class_frequency_table(missing, ["a", "b", "c"])
  assert table == {"a": 0.5, "b": 0.5, "c": 0.0}
  features = np.arange(8.0).reshape(4, 2)
  metrics = generative.coverage_metrics(features, (features[:2], missing), ["a", "b", "c"], "val/")
  assert metrics["val/min_class_frequency"] == 0.0 and metrics["val/class_frequency/1_b"] == 0.5


# ---- PSNR / SSIM -------------------------------------------------------------------------------


def test_psnr_and_ssim_against_hand_computed_values():
  zeros, tenth = np.zeros((2, 16, 16, 1)), np.full((2, 16, 16, 1), 0.1)
  # MSE 0.01 -> PSNR = -10 log10(0.01) = 20 dB.
  assert vae.reconstruction_quality(zeros, tenth)["psnr"] == pytest.approx(20.0, abs=1e-4)
  # Two flat images: no variance, so SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1), C1 = 0.01^2.
  half, quarter = np.full((1, 16, 16, 1), 0.5), np.full((1, 16, 16, 1), 0.25)
  expected = (2 * 0.5 * 0.25 + 1e-4) / (0.5**2 + 0.25**2 + 1e-4)
  assert vae.reconstruction_quality(half, quarter)["ssim"] == pytest.approx(expected, abs=1e-5)
  noise = np.random.default_rng(0).uniform(size=(1, 16, 16, 1))
  assert vae.reconstruction_quality(noise, noise)["ssim"] == pytest.approx(1.0, abs=1e-5)


# ---- the discriminator's accuracy ------------------------------------------------------------


def test_discriminator_accuracy_reads_real_and_fake_logits_apart():
  real, fake = jnp.array([2.0, -1.0, 0.5, 3.0]), jnp.array([-3.0, 1.0, 2.0, 4.0])
  real_acc, fake_acc = gan._d_accuracies(real, fake, wasserstein=False)
  assert (float(real_acc), float(fake_acc)) == (0.75, 0.25)
  summary = gan.summarize({"real_out": real, "fake_out": fake}, config=make_config("dcgan_fashion_mnist"), data=None)
  assert summary["d_real_accuracy"] == 0.75 and summary["d_fake_accuracy"] == 0.25


def test_train_step_accuracy_comes_from_the_discriminators_logits(monkeypatch):
  """A critic that calls an image real when its mean pixel is above 0.99: all-white real images are
  real, the generator's tanh images are fake, so both accuracies are 1 (real and fake logits swapped
  anywhere in the step would give 0)."""
  monkeypatch.setattr(gan, "_critic", lambda model, params, rng: lambda x: 100.0 * (jnp.mean(x, (1, 2, 3)) - 0.99))
  config = make_config("dcgan_fashion_mnist", **{"mesh.data": 1})
  spec = types.SimpleNamespace(input_shape=(16, 16, 1), steps_per_epoch=0)
  state = gan.init_state(jax.random.PRNGKey(0), None, config=config, spec=spec)
  model, _, d_tx = gan._parts(config, spec)
  real = jnp.ones((8, 16, 16, 1))
  with jax.set_mesh(jax.make_mesh((1,), ("data",), axis_types=(jax.sharding.AxisType.Auto,))):
    _, metrics = gan.d_update(model, d_tx, state, real, jax.random.PRNGKey(1), config)
  assert float(metrics["d_real_accuracy"]) == 1.0 and float(metrics["d_fake_accuracy"]) == 1.0


# ---- the class-row grid --------------------------------------------------------------------------


def test_class_row_grid_is_written_with_the_counts(tmp_path):
  config = ml_collections.ConfigDict({"generative": {"grid_rows": 3}, "seed": 0})
  run = types.SimpleNamespace(config=config, data=types.SimpleNamespace(class_names=["a", "b", "c"], spec=None),
                              is_writer=True, cache={})
  flat = lambda state, z, *, config, spec, ema: jnp.broadcast_to(z[:, :1, None, None], (z.shape[0], 4, 4, 1))
  probs = np.array([[0.9, 0.1, 0.0], [0.8, 0.2, 0.0], [0.1, 0.9, 0.0], [0.7, 0.3, 0.0], [0.6, 0.4, 0.0]])
  path = str(tmp_path / "rows.png")
  counts = generative.save_class_rows(run, None, flat, probs, jnp.linspace(-1, 1, 5)[:, None], path)
  assert counts == {"a": 4, "b": 1, "c": 0}
  assert os.path.getsize(path) > 0


# ---- the image-folder source ---------------------------------------------------------------------


def _write_images(folder, n, size, fmt, seed):
  os.makedirs(folder, exist_ok=True)
  rng = np.random.default_rng(seed)
  for i in range(n):
    pixels = rng.integers(0, 256, size=size + (3,), dtype=np.uint8)
    Image.fromarray(pixels).save(os.path.join(folder, f"img_{i}.{fmt}"))


def _folder_cfg(root, size=8, channels=3):
  return ml_collections.ConfigDict({"data_dir": str(root), "image_size": size, "image_channels": channels})


def test_folder_with_subfolders_gives_sizes_and_labels(tmp_path):
  _write_images(tmp_path / "cats", 12, (20, 30), "png", 0)
  _write_images(tmp_path / "dogs", 8, (40, 10), "jpg", 1)
  (tmp_path / "notes.txt").write_text("not an image")
  raw = sources.image_folder(_folder_cfg(tmp_path))
  assert raw.class_names == ["cats", "dogs"]
  images = np.concatenate([raw.train[0], raw.test[0]])
  labels = np.concatenate([raw.train[1], raw.test[1]])
  assert images.shape == (20, 8, 8, 3) and images.dtype == np.uint8
  assert len(raw.test[0]) == 2 and raw.validation[0] is raw.test[0]
  assert np.bincount(labels).tolist() == [12, 8]
  grey = sources.image_folder(_folder_cfg(tmp_path, size=5, channels=1))
  assert grey.train[0].shape[1:] == (5, 5, 1)


def test_flat_folder_is_one_class(tmp_path):
  _write_images(tmp_path, 5, (9, 9), "png", 2)
  raw = sources.image_folder(_folder_cfg(tmp_path))
  assert raw.class_names == ["images"] and len(raw.train[0]) + len(raw.test[0]) == 5


def test_corrupt_or_missing_folder_is_one_error_naming_it(tmp_path):
  _write_images(tmp_path / "a", 3, (9, 9), "png", 3)
  bad = tmp_path / "a" / "broken.png"
  bad.write_bytes(b"\x89PNG this is not really a png")
  with pytest.raises(DataError, match="broken.png: not a readable PNG/JPEG image"):
    sources.image_folder(_folder_cfg(tmp_path))
  with pytest.raises(DataError, match="is not a folder"):
    sources.image_folder(_folder_cfg(tmp_path / "nowhere"))
  os.makedirs(tmp_path / "empty")
  with pytest.raises(DataError, match="holds 0 PNG/JPEG"):
    sources.image_folder(_folder_cfg(tmp_path / "empty"))


@pytest.mark.slow
def test_launcher_names_the_corrupt_file_and_leaves_no_workdir(tmp_path):
  _write_images(tmp_path / "images", 6, (20, 20), "png", 4)
  (tmp_path / "images" / "bad.jpg").write_bytes(b"garbage")
  workdir = tmp_path / "run"
  line = one_error_line(launch("--config=configs/dcgan_folder.py:tiny", f"--workdir={workdir}",
                               f"--config.data.data_dir={tmp_path / 'images'}"))
  assert "bad.jpg: not a readable PNG/JPEG image" in line
  assert not os.path.exists(workdir)


@pytest.mark.slow
def test_dcgan_folder_trains_on_a_folder_of_generated_images(tmp_path):
  _write_images(tmp_path / "images" / "one", 40, (48, 48), "png", 5)
  _write_images(tmp_path / "images" / "two", 40, (32, 64), "jpg", 6)
  config = make_config("dcgan_folder", **{"data.data_dir": str(tmp_path / "images")})
  workdir = str(tmp_path / "run")
  summary = trainer.train_and_evaluate(config, workdir)
  assert summary["step"] == 12 and 0.0 <= summary["test"]["d_real_accuracy"] <= 1.0
  assert sorted(os.listdir(os.path.join(workdir, "samples"))) == ["step_0000006.png", "step_0000012.png"]
  assert len(metric(workdir, "val/d_fake_accuracy")) == 2


# ---- the scores in a run ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scored_runs(tmp_path_factory):
  """A weak classifier of the synthetic images, then a tiny DCGAN and a tiny VAE scored by it."""
  classifier = str(tmp_path_factory.mktemp("classifier"))
  trainer.train_and_evaluate(make_config("cnn_digits", **{
      "data.name": "synthetic", "data.validation_size": 64, "train.num_steps": 8, "train.batch_size": 32}),
      classifier)
  runs = {}
  for name in ("dcgan_fashion_mnist", "vae_fashion_mnist"):
    workdir = str(tmp_path_factory.mktemp(name))
    config = make_config(name, **{"generative.classifier_workdir": classifier})
    runs[name] = (workdir, trainer.train_and_evaluate(config, workdir))
  return runs


@pytest.mark.slow
def test_gan_summary_and_tensorboard_carry_coverage_and_the_class_rows(scored_runs):
  workdir, summary = scored_runs["dcgan_fashion_mnist"]
  coverage = summary["test_details"]["coverage"]
  assert set(coverage) == {"real_vs_real", "untrained", "trained", "trained_raw_weights"}
  trained = coverage["trained"]
  assert set(trained["class_frequencies"]) == {"top-left", "top-right", "bottom-left", "bottom-right"}
  assert sum(trained["class_frequencies"].values()) == pytest.approx(1.0)
  assert summary["test"]["recall"] == trained["recall"] and 0 <= trained["precision"] <= 1
  assert summary["test"]["min_class_frequency"] == min(trained["class_frequencies"].values())
  assert coverage["real_vs_real"]["recall"] > 0.5   # Two halves of the real images cover each other.
  assert os.path.getsize(os.path.join(workdir, generative.CLASS_ROWS_FILE)) > 0
  assert len(metric(workdir, "val/recall")) == 2 and len(metric(workdir, "val/class_frequency/0_top_left")) == 2
  written = json.loads(open(os.path.join(workdir, "summary.json")).read())
  written_trained = written["test_details"]["coverage"]["trained"]
  assert written_trained["class_frequencies"] == pytest.approx(trained["class_frequencies"])
  assert written_trained["recall"] == pytest.approx(trained["recall"])


@pytest.mark.slow
def test_vae_reports_psnr_and_ssim_of_its_test_reconstructions(scored_runs):
  summary = scored_runs["vae_fashion_mnist"][1]
  assert 0 < summary["test"]["reconstruction_psnr"] < 60
  assert -1 <= summary["test"]["reconstruction_ssim"] <= 1
  assert "precision" in summary["test"]
