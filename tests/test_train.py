"""The supervised workload end to end through `train_and_evaluate` on tiny configs: outputs, resume,
seeds, 1 device = 8 = FSDP, K steps per dispatch, eval mode, init_from, device-resident data.

Most tests compare against the one straight cnn_digits:tiny run of the session (`digits_run`).
"""
import json
import os

import jax
import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from conftest import (FASHION_MNIST_DIR, assert_same_arrays, copy_run, load_config, losses, make_config, params,
                      stop_and_resume)


def test_digits_run_writes_every_output(digits_run):
  workdir, summary = digits_run
  for name in ("summary.json", "metrics.jsonl", "training_curves.png", "confusion_matrix.png",
               "predictions.png"):
    assert os.path.getsize(os.path.join(workdir, name)) > 0, name
  assert os.listdir(os.path.join(workdir, "tensorboard"))
  written = json.loads(open(os.path.join(workdir, "summary.json")).read())
  assert written["step"] == 16
  assert written["test"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])
  assert set(written["test_details"]["per_class"]) == {str(d) for d in range(10)}
  assert np.sum(written["test_details"]["confusion_matrix"]) == 359  # The whole digits test split.
  # 16 steps already beat chance (10%) by far on digits.
  assert written["test"]["accuracy"] > 0.3


def test_resume_gives_identical_parameters(digits_run, tmp_path):
  # Stopped after the evaluation at step 8 (periodic checkpoints come every 8 steps in :tiny too).
  stop_and_resume(lambda: load_config("cnn_digits", "tiny"), str(tmp_path), step=8)
  assert_same_arrays(params(digits_run[0]), params(str(tmp_path)))
  assert losses(digits_run[0]) == losses(str(tmp_path))


def test_same_seed_same_result_different_seed_differs(digits_run, tmp_path):
  trainer.train_and_evaluate(make_config("cnn_digits", seed=0), str(tmp_path / "again"))
  trainer.train_and_evaluate(make_config("cnn_digits", seed=1), str(tmp_path / "other_seed"))
  assert_same_arrays(params(digits_run[0]), params(str(tmp_path / "again")))
  assert any(not np.array_equal(a, c) for a, c in zip(params(digits_run[0]), params(str(tmp_path / "other_seed")),
                                                       strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("mesh_data, sharding", [(1, "replicate"), (8, "fsdp")])
def test_one_device_and_fsdp_match_eight_replicated(digits_run, tmp_path, mesh_data, sharding):
  config = make_config("cnn_digits", **{"mesh.data": mesh_data, "mesh.param_sharding": sharding})
  trainer.train_and_evaluate(config, str(tmp_path))
  np.testing.assert_allclose(losses(digits_run[0]), losses(str(tmp_path)), rtol=1e-4)
  assert_same_arrays(params(digits_run[0]), params(str(tmp_path)), rtol=1e-3, atol=1e-5)


def test_fsdp_actually_shards_parameters(tmp_path):
  run, state = trainer.build_run(make_config("cnn_digits", **{"mesh.param_sharding": "fsdp"}), str(tmp_path))
  run.checkpointer.close()
  kernel = state.params["Dense_0"]["kernel"]   # 128 x 64: big enough to be split.
  assert len({str(s.index) for s in kernel.addressable_shards}) == 8
  assert kernel.addressable_shards[0].data.size == kernel.size // 8


def test_eval_mode_reproduces_final_metrics(digits_run, tmp_path):
  workdir, trained = copy_run(digits_run[0], tmp_path / "run"), digits_run[1]
  evaluated = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), workdir, mode="eval")
  assert evaluated["step"] == trained["step"]
  assert evaluated["test"] == pytest.approx(trained["test"])
  summary = json.loads(open(os.path.join(workdir, "summary.json")).read())
  assert summary["train_time_s"] == trained["train_time_s"] > 0   # Not overwritten.
  assert json.loads(open(os.path.join(workdir, "eval_summary.json")).read())["test"] == pytest.approx(trained["test"])


def test_init_from_starts_from_another_runs_parameters(digits_run, tmp_path):
  config = make_config("cnn_digits", init_from=digits_run[0], seed=5)
  run, fresh = trainer.build_run(config, str(tmp_path / "finetune"))
  state, _, step = trainer.restore_or_init(run, fresh)
  run.checkpointer.close()
  assert step == 0
  assert_same_arrays(params(digits_run[0]), [np.asarray(x) for x in jax.tree.leaves(state.params)])


@pytest.mark.slow
def test_mixed_precision_trains(digits_run, tmp_path):
  summary = trainer.train_and_evaluate(make_config("cnn_digits", **{"model.dtype": "bfloat16"}), str(tmp_path))
  assert np.isfinite(summary["test"]["loss"])
  bf16, f32 = losses(str(tmp_path)), losses(digits_run[0])
  assert all(np.isfinite(bf16))
  # Computed in bfloat16 (another result than float32's), learning alike.
  assert bf16 != f32
  np.testing.assert_allclose(bf16, f32, rtol=0.1)


def test_mlp_regression_fits_y_equals_2x(tmp_path):
  summary = trainer.train_and_evaluate(load_config("mlp_regression"), str(tmp_path))
  assert summary["test"]["mse"] < 1e-3


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="run `python -m launch.fetch_data` first")
def test_fashion_mnist_tiny_on_real_files(tmp_path):
  summary = trainer.train_and_evaluate(load_config("cnn_fashion_mnist", "tiny"), str(tmp_path))
  assert summary["test"]["accuracy"] > 0.4   # 20 steps of batch 32; chance is 0.1.
  assert len(json.loads((tmp_path / "summary.json").read_text())["test_details"]["per_class"]) == 10


@pytest.mark.slow
def test_tfds_config_end_to_end_on_mock_data(tmp_path, monkeypatch):
  tfds = pytest.importorskip("tensorflow_datasets")
  monkeypatch.setattr("bigmodel_jax.data.sources._online", lambda: True)   # mock_data stands in for the download.
  config = make_config("cnn_cifar10", **{"data.validation_size": 16, "train.batch_size": 16, "eval.batch_size": 16})
  with tfds.testing.mock_data(num_examples=64):
    summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["step"] == 20 and np.isfinite(summary["test"]["loss"])
  assert len(summary["test_details"]["per_class"]) == 10   # cifar10's real class names.


@pytest.mark.slow
def test_k_steps_per_dispatch_equal_k_single_dispatches(digits_run, tmp_path):
  # 16 steps as 4 dispatches; logs every 4, evaluates every 8.
  summary = trainer.train_and_evaluate(make_config("cnn_digits", **{"train.steps_per_dispatch": 4}), str(tmp_path))
  assert summary["step"] == 16
  np.testing.assert_allclose(losses(digits_run[0]), losses(str(tmp_path)), rtol=1e-5)
  assert_same_arrays(params(digits_run[0]), params(str(tmp_path)), rtol=1e-5, atol=1e-6)


def test_rerunning_a_finished_run_keeps_its_summary(digits_run, tmp_path):
  workdir = copy_run(digits_run[0], tmp_path / "run")
  written = open(os.path.join(workdir, "summary.json")).read()
  again = trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), workdir)
  assert open(os.path.join(workdir, "summary.json")).read() == written
  assert again["train_time_s"] == digits_run[1]["train_time_s"] > 0
  assert json.loads(written)["hardware"] and json.loads(written)["date"]


@pytest.mark.slow
def test_device_resident_images_train_like_host_batches(digits_run, tmp_path):
  config = make_config("cnn_digits", **{"data.on_device": True})
  run, _ = trainer.build_run(config, str(tmp_path / "probe"))
  run.checkpointer.close()
  assert run.device_data["images"].dtype == np.uint8 and not run.batch_placement
  device = trainer.train_and_evaluate(config, str(tmp_path / "device"))
  # Another batch order, the same learning: both far above chance (10%) after 16 steps.
  assert device["test"]["accuracy"] > 0.3 and digits_run[1]["test"]["accuracy"] > 0.3
  assert losses(str(tmp_path / "device")) != losses(digits_run[0])
