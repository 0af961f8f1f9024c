"""Bad input ends with one clear line and a non-zero exit, and never costs a checkpoint."""
import os
import signal

import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.engine.checkpoints import Checkpointer
from bigmodel_jax.data.idx import write_idx
from bigmodel_jax.errors import CheckpointError, ConfigError, DataError, TrainingDiverged, UserError
from conftest import copy_run, launch, load_config, make_config


@pytest.mark.slow
def test_unknown_config_key_is_rejected_by_the_launcher(tmp_path):
  result = launch("--config=configs/cnn_digits.py:tiny", f"--workdir={tmp_path}",
                   "--config.train.batch_sise=8")
  assert result.returncode == 1
  assert "Traceback" not in result.stderr
  assert [l for l in result.stderr.splitlines() if "batch_sise" in l][0].startswith("error: a --config override")


@pytest.mark.slow
def test_wrong_type_is_rejected_by_the_launcher(tmp_path):
  result = launch("--config=configs/cnn_digits.py:tiny", f"--workdir={tmp_path}",
                   "--config.train.batch_size=eight")
  assert result.returncode != 0
  assert "Traceback" not in result.stderr
  assert "batch_size" in result.stderr


def test_user_error_is_one_line_and_exit_1(tmp_path):
  workdir = tmp_path / "a_file"
  workdir.write_text("not a directory")
  result = launch("--config=configs/cnn_digits.py:tiny", f"--workdir={workdir}")
  assert result.returncode == 1
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert errors == [f"error: --workdir={workdir} is a file, not a directory"]
  assert "Traceback" not in result.stderr


def test_batch_not_divisible_by_devices(tmp_path):
  with pytest.raises(ConfigError, match="not divisible by the 8 devices"):
    trainer.train_and_evaluate(make_config("cnn_digits", **{"train.batch_size": 12}), str(tmp_path))


def test_model_too_big_for_its_input(tmp_path):
  # Two 5x5 'VALID' convs and pools cannot fit on 8x8 digits.
  with pytest.raises(ConfigError, match=r"cannot be built for this data .*input_shape=\(8, 8, 1\)"):
    trainer.train_and_evaluate(make_config("cnn_digits", **{"model.padding": "VALID", "model.kernel_size": 5}),
                               str(tmp_path))


def test_unknown_model_option(tmp_path):
  config = load_config("cnn_digits", "tiny")
  with config.unlocked():
    config.model.widht = 3
  with pytest.raises(ConfigError, match="model.widht is not a key of section .model."):
    trainer.train_and_evaluate(config, str(tmp_path))


@pytest.mark.parametrize("key, value, message", [
    ("optimizer.name", "adagrad", "optimizer.name"),
    ("optimizer.schedule", "cyclic", "optimizer.schedule"),
    ("mesh.param_sharding", "zero9", "param_sharding"),
    ("data.name", "imagenet", "data.name"),
    ("model.name", "vit", "model.name"),
    ("mesh.data", 16, "does not fit"),
])
def test_unknown_names_in_config(tmp_path, key, value, message):
  with pytest.raises(ConfigError, match=message):
    trainer.train_and_evaluate(make_config("cnn_digits", **{key: value}), str(tmp_path))


def _idx_dir(path, n_train=64, n_test=16):
  rng = np.random.default_rng(0)
  os.makedirs(path, exist_ok=True)
  for split, n in (("train", n_train), ("t10k", n_test)):
    write_idx(os.path.join(path, f"{split}-images-idx3-ubyte.gz"), rng.integers(0, 255, (n, 28, 28)))
    write_idx(os.path.join(path, f"{split}-labels-idx1-ubyte.gz"), rng.integers(0, 10, n))
  return str(path)


def _fashion(data_dir):
  """cnn_fashion_mnist:tiny reading `data_dir`, with a narrow net: the files are under test, not the model."""
  return make_config("cnn_fashion_mnist", **{"data.data_dir": data_dir, "data.validation_size": 16,
                                             "train.num_steps": 2, "model.features": (8,),
                                             "model.dense_features": 16})


def test_missing_data_directory(tmp_path):
  with pytest.raises(DataError, match="does not exist.*fetch_data"):
    trainer.train_and_evaluate(_fashion(str(tmp_path / "nowhere")), str(tmp_path / "run"))


def test_data_directory_without_the_files(tmp_path):
  (tmp_path / "empty").mkdir()
  with pytest.raises(DataError, match="no train-images-idx3-ubyte"):
    trainer.train_and_evaluate(_fashion(str(tmp_path / "empty")), str(tmp_path / "run"))


def test_truncated_data_file(tmp_path):
  data_dir = _idx_dir(tmp_path / "data")
  path = os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")
  write_idx(path, np.zeros(16))
  raw = open(path, "rb").read()
  with open(path, "wb") as f:
    f.write(raw[:len(raw) // 2])
  with pytest.raises(DataError, match="t10k-labels"):
    trainer.train_and_evaluate(_fashion(data_dir), str(tmp_path / "run"))


def test_labels_and_images_disagree(tmp_path):
  data_dir = _idx_dir(tmp_path / "data")
  write_idx(os.path.join(data_dir, "train-labels-idx1-ubyte.gz"), np.zeros(63))
  with pytest.raises(DataError, match="64 images but 63 labels"):
    trainer.train_and_evaluate(_fashion(data_dir), str(tmp_path / "run"))


def test_small_idx_files_train_end_to_end(tmp_path):
  summary = trainer.train_and_evaluate(_fashion(_idx_dir(tmp_path / "data")), str(tmp_path / "run"))
  assert summary["step"] == 2 and np.isfinite(summary["test"]["loss"])


def test_checkpoint_of_another_model_is_refused_and_kept(digits_run, tmp_path):
  workdir = copy_run(digits_run[0], tmp_path / "run")
  with pytest.raises(CheckpointError, match="was written with model.dense_features=64, this run has "
                                            "model.dense_features=32"):
    trainer.train_and_evaluate(make_config("cnn_digits", **{"model.dense_features": 32}), workdir)
  assert Checkpointer(workdir, keep=2, read_only=True).all_steps() == [8, 16]


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
  config = make_config("cnn_digits", **{"optimizer.learning_rate": 1e12, "optimizer.grad_clip_norm": 0.0,
                                        "optimizer.warmup_steps": 0, "optimizer.schedule": "constant",
                                        "checkpoint.every_steps": 1})
  with pytest.raises(TrainingDiverged, match=r"at step (\d+).*Last good checkpoint: step") as info:
    trainer.train_and_evaluate(config, str(tmp_path))
  bad_step = int(info.value.args[0].split("at step ")[1].split(";")[0])
  latest = Checkpointer(str(tmp_path), keep=2, read_only=True).latest_step()
  assert latest == bad_step - 1


def test_eval_mode_without_checkpoint(tmp_path):
  with pytest.raises(UserError, match="no checkpoint"):
    trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), str(tmp_path), mode="eval")


def test_sigterm_saves_a_checkpoint_and_stops(tmp_path):
  config = make_config("cnn_digits", **{"checkpoint.every_steps": 100})   # No periodic checkpoint before the signal.

  def terminate(step, state, run, seconds):
    os.kill(os.getpid(), signal.SIGTERM)

  with pytest.raises(trainer.Interrupted, match="SIGTERM: stopped at step 8, checkpoint saved") as stopped:
    trainer.train_and_evaluate(config, str(tmp_path), on_eval=terminate)
  assert stopped.value.exit_status == 0 and stopped.value.step == 8
  assert Checkpointer(str(tmp_path), keep=2, read_only=True).latest_step() == 8
  # The default handler is back: the run above did not leave its own behind.
  assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
