"""End to end through `train_and_evaluate` on tiny configs: outputs, resume, devices, FSDP, eval mode."""
import json
import os

import jax
import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.engine.checkpoints import Checkpointer
from conftest import FASHION_MNIST_DIR, load_config


def _params(workdir):
  """Parameters of the latest checkpoint in `workdir`, as a flat list of host arrays."""
  ckpt = Checkpointer(workdir, keep=1, read_only=True)
  raw = ckpt.restore_raw(ckpt.latest_step())
  ckpt.close()
  return [np.asarray(x) for x in jax.tree.leaves(raw["train_state"]["params"])]


def _losses(workdir):
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [r["train/loss"] for r in map(json.loads, f) if "train/loss" in r]


def test_digits_run_writes_every_output(tmp_path):
  summary = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), str(tmp_path))
  for name in ("summary.json", "metrics.jsonl", "training_curves.png", "confusion_matrix.png",
               "predictions.png"):
    assert os.path.getsize(tmp_path / name) > 0, name
  assert os.listdir(tmp_path / "tensorboard")
  written = json.loads((tmp_path / "summary.json").read_text())
  assert written["step"] == 16
  assert written["test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])
  assert set(written["test_details"]["per_class"]) == {str(d) for d in range(10)}
  assert np.sum(written["test_details"]["confusion_matrix"]) == 359  # The whole digits test split.
  # 16 steps already beat chance (10%) by far on digits.
  assert written["test"]["accuracy"] > 0.3


def test_resume_gives_identical_parameters(tmp_path):
  straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
  trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), straight)

  def stop_half_way(step, state, run, seconds):
    if step == 8:
      raise trainer.StopTraining()

  stopped = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), resumed, on_eval=stop_half_way)
  assert stopped["step"] == 8
  # The stop saved a checkpoint of step 8 (periodic ones come every 10 steps in :tiny).
  assert Checkpointer(resumed, keep=2, read_only=True).latest_step() == 8
  # A second invocation picks up the step-8 checkpoint and continues to 16.
  trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), resumed)
  for a, b in zip(_params(straight), _params(resumed), strict=True):
    np.testing.assert_array_equal(a, b)
  assert _losses(straight) == _losses(resumed)


def test_same_seed_same_result_different_seed_differs(tmp_path):
  runs = []
  for name, seed in (("a", 0), ("b", 0), ("c", 1)):
    config = load_config("cnn_digits", "tiny")
    with config.unlocked():
      config.seed = seed
    trainer.train_and_evaluate(config, str(tmp_path / name))
    runs.append(_params(str(tmp_path / name)))
  for a, b in zip(runs[0], runs[1], strict=True):
    np.testing.assert_array_equal(a, b)
  assert any(not np.array_equal(a, c) for a, c in zip(runs[0], runs[2], strict=True))


@pytest.mark.parametrize("mesh_data, sharding", [(1, "replicate"), (8, "fsdp")])
def test_one_device_and_fsdp_match_eight_replicated(tmp_path, mesh_data, sharding):
  reference = str(tmp_path / "ref")
  trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), reference)
  config = load_config("cnn_digits", "tiny")
  with config.unlocked():
    config.mesh.data = mesh_data
    config.mesh.param_sharding = sharding
  other = str(tmp_path / "other")
  trainer.train_and_evaluate(config, other)
  np.testing.assert_allclose(_losses(reference), _losses(other), rtol=1e-4)
  for a, b in zip(_params(reference), _params(other), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)


def test_fsdp_actually_shards_parameters(tmp_path):
  config = load_config("cnn_digits", "tiny")
  with config.unlocked():
    config.mesh.param_sharding = "fsdp"
  run, state = trainer.build_run(config, str(tmp_path))
  run.checkpointer.close()
  kernel = state.params["Dense_0"]["kernel"]   # 128 x 64: big enough to be split.
  assert len({str(s.index) for s in kernel.addressable_shards}) == 8
  assert kernel.addressable_shards[0].data.size == kernel.size // 8


def test_eval_mode_reproduces_final_metrics(tmp_path):
  config = load_config("cnn_digits", "tiny")
  trained = trainer.train_and_evaluate(config, str(tmp_path))
  evaluated = trainer.train_and_evaluate(config, str(tmp_path), mode="eval")
  assert evaluated["step"] == trained["step"]
  assert evaluated["test"] == pytest.approx(trained["test"])
  assert json.loads((tmp_path / "summary.json").read_text())["train_time_s"] > 0   # Not overwritten.
  assert json.loads((tmp_path / "eval_summary.json").read_text())["test"] == pytest.approx(trained["test"])


def test_init_from_starts_from_another_runs_parameters(tmp_path):
  source = str(tmp_path / "source")
  trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), source)
  config = load_config("cnn_digits", "tiny")
  with config.unlocked():
    config.init_from = source
    config.seed = 5
  run, fresh = trainer.build_run(config, str(tmp_path / "finetune"))
  state, _, step = trainer.restore_or_init(run, fresh)
  run.checkpointer.close()
  assert step == 0
  for a, b in zip(_params(source), jax.tree.leaves(state.params), strict=True):
    np.testing.assert_array_equal(a, np.asarray(b))


def test_mixed_precision_trains(tmp_path):
  config = load_config("cnn_digits", "tiny")
  with config.unlocked():
    config.model.dtype = "bfloat16"
  summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert np.isfinite(summary["test"]["loss"])
  assert all(np.isfinite(_losses(str(tmp_path))))


def test_mlp_regression_fits_y_equals_2x(tmp_path):
  summary = trainer.train_and_evaluate(load_config("mlp_regression"), str(tmp_path))
  assert summary["test"]["mse"] < 1e-3


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="run `python -m launch.fetch_data` first")
def test_fashion_mnist_tiny_on_real_files(tmp_path):
  summary = trainer.train_and_evaluate(load_config("cnn_fashion_mnist", "tiny"), str(tmp_path))
  assert summary["test"]["accuracy"] > 0.4   # 20 steps of batch 32; chance is 0.1.
  assert len(json.loads((tmp_path / "summary.json").read_text())["test_details"]["per_class"]) == 10


def test_tfds_config_end_to_end_on_mock_data(tmp_path):
  tfds = pytest.importorskip("tensorflow_datasets")
  config = load_config("cnn_cifar10", "tiny")
  with config.unlocked():
    config.data.validation_size = 16
    config.train.batch_size = 16
    config.eval.batch_size = 16
  with tfds.testing.mock_data(num_examples=64):
    summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["step"] == 20 and np.isfinite(summary["test"]["loss"])
  assert len(summary["test_details"]["per_class"]) == 10   # cifar10's real class names.


def test_k_steps_per_dispatch_equal_k_single_dispatches(tmp_path):
  single = str(tmp_path / "single")
  trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), single)
  config = load_config("cnn_digits", "tiny")
  with config.unlocked():
    config.train.steps_per_dispatch = 4   # 16 steps as 4 dispatches; logs every 4, evaluates every 8.
  scanned = str(tmp_path / "scanned")
  summary = trainer.train_and_evaluate(config, scanned)
  assert summary["step"] == 16
  np.testing.assert_allclose(_losses(single), _losses(scanned), rtol=1e-5)
  for a, b in zip(_params(single), _params(scanned), strict=True):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_rerunning_a_finished_run_keeps_its_summary(tmp_path):
  first = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), str(tmp_path))
  written = (tmp_path / "summary.json").read_text()
  again = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), str(tmp_path))
  assert (tmp_path / "summary.json").read_text() == written
  assert again["train_time_s"] == first["train_time_s"] > 0
  assert json.loads(written)["hardware"] and json.loads(written)["date"]


def test_device_resident_images_train_like_host_batches(tmp_path):
  host = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), str(tmp_path / "host"))
  config = load_config("cnn_digits", "tiny")
  with config.unlocked():
    config.data.on_device = True
  run, _ = trainer.build_run(config, str(tmp_path / "probe"))
  run.checkpointer.close()
  assert run.device_data["images"].dtype == np.uint8 and not run.batch_placement
  device = trainer.train_and_evaluate(config, str(tmp_path / "device"))
  # Another batch order, the same learning: both far above chance (10%) after 16 steps.
  assert device["test"]["accuracy"] > 0.3 and host["test"]["accuracy"] > 0.3
  assert _losses(str(tmp_path / "device")) != _losses(str(tmp_path / "host"))
