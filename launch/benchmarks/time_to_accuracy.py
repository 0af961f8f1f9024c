r"""Wall-clock time to a Fashion-MNIST test accuracy: this project against the source's Keras CNN.

  python -m launch.benchmark time_to_accuracy            # both, prints a table
  python -m launch.benchmark time_to_accuracy --skip_keras

Both sides are timed the same way: training seconds from the first step (compilation
included) until the first evaluation at or above --target, evaluation time left out.
Keras (TensorFlow backend) runs in --keras_venv, created on first use from
launch/requirements-keras.txt (`launch/keras_baseline.py`), and is evaluated after each
epoch (up to 10), as Keras users do; this project evaluates every
`train.eval_every_steps` steps of --config (`configs/cnn_fashion_mnist_fast.py`). If
Keras never reaches the target, its time over all epochs is a lower bound and the
speed-up is printed as ">=". With --repeats the two sides take turns.
"""
import json
import os
import subprocess
import sys
import tempfile

from absl import flags

from launch import xla_flags
from launch.benchmarks import harness

_CONFIG = harness.config_flag("configs/cnn_fashion_mnist_fast.py", "This project's side")
_TARGET = flags.DEFINE_float("target", 0.91, "Test accuracy to reach.")
_KERAS_VENV = flags.DEFINE_string("keras_venv", ".venv-keras", "Virtualenv for the Keras baseline.")
_SKIP_KERAS = flags.DEFINE_bool("skip_keras", False, "Time only this project.")
_REPEATS = harness.repeats_flag()
KERAS_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "keras_baseline.py")
REQUIREMENTS = os.path.join(os.path.dirname(KERAS_SCRIPT), "requirements-keras.txt")


def time_this_project(config, target: float) -> dict:
  """Training seconds, accuracy and step of the first evaluation at or above `target` ({} if none)."""
  from bigmodel_jax.engine import evaluation, trainer
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
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", REQUIREMENTS], check=True)
  return python


def time_keras(venv: str, data_dir: str, target: float) -> dict:
  """The Keras CNN's last epoch line (training seconds, test accuracy, epoch) and whether it reached `target`."""
  env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="2")
  # TensorFlow's own XLA need not know the flags this project adds for itself.
  env["XLA_FLAGS"] = " ".join(f for f in env.get("XLA_FLAGS", "").split() if f not in xla_flags.CPU_FLAGS)
  process = subprocess.Popen([_keras_python(venv), KERAS_SCRIPT, f"--data_dir={data_dir}", f"--target={target}"],
                             stdout=subprocess.PIPE, text=True, env=env)
  last = {}
  for line in process.stdout:
    if line.startswith("{"):
      last = json.loads(line)
      print(json.dumps({"side": "keras", **last}), flush=True)
  process.wait()
  return {**last, "reached": last.get("test_accuracy", 0) >= target}


def table_line(name: str, side: dict) -> str:
  if "train_seconds" not in side:
    return f"  {name:<20} not reached"
  verdict = "" if side.get("reached", True) else \
      f"  not reached in {side['epoch']} epochs (best so far), so at least"
  return f"  {name:<20} {side['train_seconds']:8.1f} s (acc {side['test_accuracy']:.4f}){verdict}"


def run(argv):
  del argv
  config = harness.loaded_config(_CONFIG)
  target = _TARGET.value
  report = harness.Report("time_to_accuracy", config)
  sides = {"bigmodel_jax": lambda: time_this_project(config, target)}
  if not _SKIP_KERAS.value:
    data_dir = config.data.data_dir or "data/fashion_mnist"
    sides["keras (source CNN)"] = lambda: time_keras(_KERAS_VENV.value, data_dir, target)
  for round_, side, result in harness.take_turns(sides, _REPEATS.value):
    report.row({"round": round_, "side": side, **result})
  print(f"\ntime to {target:.1%} {config.data.name} test accuracy (training seconds, evaluation excluded)")
  for round_ in range(_REPEATS.value):
    rows = {r["side"]: r for r in report.record["rows"] if r["round"] == round_}
    for side, row in rows.items():
      print(table_line(side, row))
    ours, keras = rows["bigmodel_jax"], rows.get("keras (source CNN)")
    if "train_seconds" in ours and keras and "train_seconds" in keras:
      report.compare("speed-up", ("ours", ours["train_seconds"]), ("keras", keras["train_seconds"]), "s",
                     lower_is_better=True, at_least=not keras["reached"])
  report.finish()
