"""Every workload refuses bad input before it starts, resumes only onto what gives its state meaning,
bounds large requests, checkpoints only finite states, stops cleanly on signals and survives SIGKILL.

Each refusal is checked for its one line, and for a workdir left as it was: a fresh one is not
created, an existing one keeps every file byte for byte.
"""
import os
import random
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from bigmodel_jax.engine.checkpoints import Checkpointer
from bigmodel_jax.errors import CheckpointError, ConfigError, DataError, TrainingDiverged, UserError
from conftest import REPO, file_checksums, make_config
from launch import fault_injection

TEXT = "\n".join(" ".join(w for w in ("the", "king", "and", "queen", "of", "night")[i % 3:]) for i in range(400))


def _refused(config, workdir, error, match, mode="train", options=None):
  """Asserts the run is refused with `error` matching `match` and leaves `workdir` as it was."""
  before = file_checksums(workdir)
  with pytest.raises(error, match=match) as info:
    trainer.train_and_evaluate(config, workdir, mode, options=options or {})
  assert "\n" not in str(info.value)
  assert file_checksums(workdir) == before


def _config(name, **dotted):
  return make_config(name, **dotted)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  folder = tmp_path_factory.mktemp("text")
  (folder / "a.txt").write_text(TEXT)
  (folder / "b.txt").write_text(TEXT.replace("k", "z"))   # Same number of symbols, one of them other.
  return folder


def _lm(corpus, file="a.txt", **dotted):
  return _config("lm_shakespeare_char", **{"data.name": "files", "data.files": str(corpus / file),
                                           "mesh.data": 1, **dotted})


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
  """Finished tiny runs of the workloads whose modes and resumes are tried below."""
  root = tmp_path_factory.mktemp("trained")
  runs = {"lm": (_lm(corpus), root / "lm"), "gan": (_config("dcgan_fashion_mnist"), root / "gan"),
          "rl": (_config("ppo_cartpole"), root / "rl"), "kmeans": (_config("kmeans_digits"), root / "kmeans")}
  for config, workdir in runs.values():
    trainer.train_and_evaluate(config, str(workdir))
  return {name: str(workdir) for name, (_, workdir) in runs.items()}


# ---------------------------------------------------------------- config values and flags


@pytest.mark.parametrize("name, dotted, match", [
    ("dcgan_fashion_mnist", {"seed": -1}, r"seed=-1 is not allowed; expected an integer >= 0"),
    ("vae_fashion_mnist", {"train.ema_decay": 1.0}, r"train.ema_decay=1.0 is not allowed"),
    ("lm_shakespeare_char", {"lm.top_p": 0.0}, r"lm.top_p=0.0 is not allowed"),
    ("ppo_cartpole", {"rl.num_envs": 0}, r"rl.num_envs=0 is not allowed"),
    ("ppo_cartpole", {"train.num_epochs": 4}, r"train.num_epochs=4 has no effect in workload 'rl'"),
    ("kmeans_digits", {"kmeans.num_clusters": 0}, r"kmeans.num_clusters=0 is not allowed"),
    ("kmeans_digits", {"kmeans.num_clusters": 5000}, r"kmeans.num_clusters=5000 exceeds the 1438 points"),
    ("cnn_digits", {"train.slow_dispatch_s": 0.0}, r"train.slow_dispatch_s=0.0 is not allowed"),
])
def test_bad_config_values_of_every_workload_are_refused_before_the_workdir_exists(tmp_path, name, dotted, match):
  _refused(_config(name, **dotted), str(tmp_path / "fresh"), ConfigError, match)


@pytest.mark.parametrize("run, mode, options, match", [
    ("lm", "sample", {"num_samples": -1}, r"--num_samples=-1 is not allowed; expected an integer in \[1, 10000\]"),
    ("lm", "sample", {"num_samples": 0}, r"--num_samples=0 is not allowed"),
    ("lm", "sample", {"num_tokens": 0}, r"--num_tokens=0 is not allowed"),
    ("lm", "sample", {"num_tokens": 10**9}, r"--num_tokens=1000000000 is not allowed; expected an integer in"),
    ("lm", "sample", {"num_episodes": 3}, r"--num_episodes is not a flag of --mode=sample"),
    ("gan", "sample", {"num_samples": 0}, r"--num_samples=0 is not allowed"),
    ("gan", "sample", {"num_samples": 10**12}, r"--num_samples=1000000000000 needs .* GiB .* at most \d+ fit"),
    ("rl", "eval", {"num_episodes": 0}, r"--num_episodes=0 is not allowed"),
    ("kmeans", "predict", {"num_samples": 2}, r"--num_samples is not a flag of --mode=predict"),
])
def test_bad_mode_flags_are_refused_and_the_workdir_is_unchanged(trained, corpus, run, mode, options, match):
  config = {"lm": lambda: _lm(corpus), "gan": lambda: _config("dcgan_fashion_mnist"),
            "rl": lambda: _config("ppo_cartpole"), "kmeans": lambda: _config("kmeans_digits")}[run]()
  _refused(config, trained[run], ConfigError, match, mode, options)


def test_prompts_outside_the_vocabulary_and_endless_lstm_samples_are_refused(trained, corpus, tmp_path):
  _refused(_lm(corpus), trained["lm"], DataError, r"outside the run's vocabulary", "sample", {"prompt": "ZEBRA"})
  _refused(_lm(corpus), trained["lm"], ConfigError, r"--prompt is empty", "sample", {"prompt": ""})
  lstm = _config("lstm_shakespeare_char", **{"data.name": "files", "data.files": str(corpus / "a.txt"),
                                             "mesh.data": 1, "lm.report_tokens": 0})
  trainer.train_and_evaluate(lstm, str(tmp_path / "lstm"))
  _refused(lstm, str(tmp_path / "lstm"), ConfigError,
           r"recomputes the whole sequence for every token, so at most 4096",
           "sample", {"num_tokens": 5000})


def test_a_mode_on_a_missing_workdir_does_not_create_it(tmp_path):
  _refused(_config("cnn_digits"), str(tmp_path / "none"), UserError, r"does not exist; train into it first", "eval")


# ---------------------------------------------------------------- data files


@pytest.mark.parametrize("array, match", [
    (np.float32(3.0), r"has shape \(\); expected N x D points or N images"),
    (np.arange(10, dtype=np.float32), r"has shape \(10,\); expected N x D points"),
    (np.array([["a", "b"]]), r"holds <U1 values; expected real numbers"),
    (np.full((4, 64), np.nan, np.float32), r"NaN or infinite"),
    (np.zeros((4, 65), np.float32), r"65 features per row, but the centroids have 64"),
])
def test_kmeans_predict_input_files_are_checked_before_anything_is_written(trained, tmp_path, array, match):
  path = tmp_path / "input.npy"
  np.save(path, array)
  _refused(_config("kmeans_digits"), trained["kmeans"], DataError, match, "predict", {"input": str(path)})


@pytest.mark.parametrize("array, match", [
    (np.float32(3.0), r"has shape \(\)"),
    (np.arange(10, dtype=np.float32), r"has shape \(10,\)"),
])
def test_kmeans_training_files_of_the_wrong_shape_are_refused(tmp_path, array, match):
  path = tmp_path / "points.npy"
  np.save(path, array)
  _refused(_config("kmeans_digits", **{"data.name": "npy", "data.path": str(path)}), str(tmp_path / "run"),
           DataError, match)


def test_kmeans_predict_streams_a_memory_mapped_input(trained, tmp_path):
  x = np.random.default_rng(0).uniform(0, 1, size=(3000, 64)).astype(np.float32)
  np.save(tmp_path / "many.npy", x)
  config = _config("kmeans_digits", **{"eval.batch_size": 256})
  result = trainer.train_and_evaluate(config, trained["kmeans"], "predict",
                                      options={"input": str(tmp_path / "many.npy")})
  labels = np.load(os.path.join(trained["kmeans"], "predictions.npy"))
  centroids = np.load(os.path.join(trained["kmeans"], "centroids.npy"))
  expected = np.argmin(((x[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
  assert result["rows"] == 3000 and np.mean(labels == expected) > 0.999   # Ties aside.


# ---------------------------------------------------------------- resumes


def test_resuming_a_language_model_with_another_vocabulary_of_the_same_size_is_refused(trained, corpus):
  _refused(_lm(corpus, "b.txt"), trained["lm"], CheckpointError, r"was written with data.vocabulary=")


@pytest.mark.parametrize("run, dotted, match", [
    ("rl", {"env.name": "Acrobot-v1", "model.head": "categorical"}, r"with env.name='CartPole-v1'"),
    ("kmeans", {"kmeans.num_clusters": 5}, r"with kmeans.num_clusters=10, this run has kmeans.num_clusters=5"),
    ("gan", {"g_optimizer.learning_rate": 1e-3}, r"with g_optimizer.learning_rate=0.0002"),
    ("gan", {"train.ema_decay": 0.9}, r"with train.ema_decay=0.999, this run has train.ema_decay=0.9"),
])
def test_resuming_with_what_gives_the_state_meaning_changed_is_refused_naming_it(trained, run, dotted, match):
  name = {"rl": "ppo_cartpole", "kmeans": "kmeans_digits", "gan": "dcgan_fashion_mnist"}[run]
  config = _config(name, **{"train.num_steps": 10**6} if run == "gan" else {}, **dotted)
  _refused(config, trained[run], CheckpointError, match)


def test_evaluating_with_another_optimizer_is_allowed(trained):
  result = trainer.train_and_evaluate(_config("dcgan_fashion_mnist", **{"g_optimizer.learning_rate": 1e-3}),
                                      trained["gan"], "eval")
  assert result["step"] == 12


def test_resuming_a_classifier_on_other_normalisation_is_refused(tmp_path):
  trainer.train_and_evaluate(_config("cnn_digits", **{"train.num_steps": 8}), str(tmp_path))
  _refused(_config("cnn_digits", **{"data.normalize": False}), str(tmp_path), CheckpointError,
           r"was written with data.mean=")


# ---------------------------------------------------------------- checkpoints and signals


def test_a_diverging_run_leaves_only_finite_checkpoints(tmp_path):
  config = _config("cnn_digits", **{"optimizer.learning_rate": 1e30, "optimizer.schedule": "constant",
                                    "optimizer.warmup_steps": 0, "checkpoint.every_steps": 1,
                                    "train.log_every_steps": 1, "checkpoint.keep": 100})
  with pytest.raises(TrainingDiverged, match=r"(?i)(nan|infinite)"):
    trainer.train_and_evaluate(config, str(tmp_path))
  checkpointer = Checkpointer(str(tmp_path), keep=100, read_only=True)
  for step in checkpointer.all_steps():
    state = checkpointer.restore_raw(step)["train_state"]
    floats = [np.asarray(x) for x in jax.tree.leaves(state) if np.issubdtype(np.asarray(x).dtype, np.floating)]
    assert all(np.isfinite(x).all() for x in floats), step
  checkpointer.close()


def test_a_long_wait_on_the_devices_is_reported(tmp_path, capsys):
  trainer.train_and_evaluate(_config("cnn_digits", **{"train.slow_dispatch_s": 1e-3, "train.num_steps": 4}),
                             str(tmp_path))
  assert "warning: waited" in capsys.readouterr().err


def _launch_and_signal(args, sig, after_s):
  process = subprocess.Popen([sys.executable, "-m", "launch.main", *args], cwd=REPO, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  time.sleep(after_s)
  process.send_signal(sig)
  out, err = process.communicate(timeout=120)
  return process.returncode, err


@pytest.mark.slow
@pytest.mark.parametrize("sig, status", [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_during_start_up_is_one_line_and_its_exit_status(tmp_path, sig, status):
  code, err = _launch_and_signal(["--config=configs/cnn_digits.py:tiny", f"--workdir={tmp_path}/run"], sig, 0.3)
  assert code == status, err
  assert "Traceback" not in err and err.count("stopped:") == 1


# ---------------------------------------------------------------- crash safety


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_nothing(tmp_path):
  rows = [fault_injection.inject(name, str(tmp_path), kills=3, rng=random.Random(0))
          for name in ("vae_fashion_mnist", "ppo_cartpole")]
  for row in rows:
    assert row["kills"] == 3 and not fault_injection.broken(row), row
    assert row["resumes"] == row["launches"]


def test_a_state_that_is_not_finite_is_never_checkpointed():
  from bigmodel_jax.engine.train_loop import check_state_finite
  state = {"params": {"dense": np.ones(3, np.float32), "head": np.array([1.0, np.inf], np.float32)},
           "step": np.int32(4)}
  with pytest.raises(TrainingDiverged, match=r"after step 7 has NaN or infinite values in \['params'\]\['head'\]; "
                                             r"stopped. Last good checkpoint: step 5"):
    check_state_finite(state, 7, 5)
  check_state_finite({"params": np.ones(2, np.float32), "step": np.int32(1)}, 1, None)
