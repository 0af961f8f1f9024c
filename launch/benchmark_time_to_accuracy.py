r"""Wall-clock time to a Fashion-MNIST test accuracy: this project against the source's Keras CNN.

  .venv/bin/python -m launch.benchmark_time_to_accuracy            # both, prints a table
  .venv/bin/python -m launch.benchmark_time_to_accuracy --skip_keras

Both sides are timed the same way: training seconds from the first step (compilation
included) until the first evaluation at or above --target, evaluation time left out.
Keras (TensorFlow backend) runs in .venv-keras, created on first use from
launch/requirements-keras.txt, and is evaluated after each epoch (up to 10), as
Keras users do; this project evaluates every `train.eval_every_steps` steps of its
config. If Keras never reaches the target, its time over all epochs is a lower
bound and the speed-up is printed as ">=".
"""
import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags
from ml_collections import config_flags

from bigmodel_jax.engine import evaluation, trainer
from launch import xla_flags

_CONFIG = config_flags.DEFINE_config_file("config", "configs/cnn_fashion_mnist_fast.py",
                                          "This project's side.", lock_config=True)
_TARGET = flags.DEFINE_float("target", 0.91, "Test accuracy to reach.")
_KERAS_VENV = flags.DEFINE_string("keras_venv", ".venv-keras", "Virtualenv for the Keras baseline.")
_SKIP_KERAS = flags.DEFINE_bool("skip_keras", False, "Time only this project.")


def time_this_project(config, target: float) -> dict:
  reached = {}

  def check_test_accuracy(step, state, run, train_seconds):
    accuracy = evaluation.evaluate(run, state, "test")[0]["accuracy"]
    print(json.dumps({"side": "bigmodel_jax", "step": step, "train_seconds": round(train_seconds, 2),
                      "test_accuracy": accuracy}), flush=True)
    if accuracy >= target:
      reached.update(train_seconds=train_seconds, test_accuracy=accuracy, step=step)
      raise trainer.StopTraining()

  with tempfile.TemporaryDirectory() as workdir:
    trainer.train_and_evaluate(config, workdir, on_eval=check_test_accuracy)
  return reached


def _keras_python(venv: str) -> str:
  python = os.path.join(venv, "bin", "python")
  if not os.path.exists(python):
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", "launch/requirements-keras.txt"], check=True)
  return python


def time_keras(venv: str, data_dir: str, target: float) -> dict:
  env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
  # TensorFlow's own XLA need not know the flags this project adds for itself.
  env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split() if f not in xla_flags.CPU_FLAGS)
  process = subprocess.Popen([_keras_python(venv), "launch/keras_baseline.py", f"--data_dir={data_dir}",
                              f"--target={target}"], stdout=subprocess.PIPE, text=True, env=env)
  last = {}
  for line in process.stdout:
    if line.startswith("{"):
      last = json.loads(line)
      print(json.dumps({"side": "keras", **last}), flush=True)
  process.wait()
  return {**last, "reached": last.get("test_accuracy", 0) >= target}


def main(argv):
  del argv
  xla_flags.set_defaults()  # Before the first use of a device.
  config = _CONFIG.value
  ours = time_this_project(config, _TARGET.value)
  keras = {} if _SKIP_KERAS.value else time_keras(
      _KERAS_VENV.value, config.data.data_dir or "data/fashion_mnist", _TARGET.value)
  print(f"\ntime to {_TARGET.value:.1%} Fashion-MNIST test accuracy (training seconds, evaluation excluded)")
  print(f"  bigmodel_jax         " + (f"{ours['train_seconds']:8.1f} s (acc {ours['test_accuracy']:.4f})"
                                    if ours else "not reached"))
  if keras:
    verdict = "" if keras["reached"] else f"  not reached in {keras['epoch']} epochs (best so far), so at least"
    print(f"  keras (source CNN)   {keras['train_seconds']:8.1f} s (acc {keras['test_accuracy']:.4f}){verdict}")
  if ours and keras:
    bound = "" if keras["reached"] else ">= "
    print(f"  speed-up: {bound}{keras['train_seconds'] / ours['train_seconds']:.2f}x")


if __name__ == "__main__":
  app.run(main)
