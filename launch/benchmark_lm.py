r"""Training speed of the reference-shaped GPT, ours beside PyTorch's, in one run on one machine.

  python -m launch.benchmark_lm [--torch_python=.venv-torch/bin/python] [--steps=300]

Ours: `configs/lm_shakespeare_char.py:bench` (4 blocks, 4 heads, 128 dims, context 64,
batch 12, AdamW lr 1e-3, no dropout, learned positions) trained by the shared trainer on
one device for --steps steps; tokens/s is the median of the trainer's logged windows
(train/tokens_per_sec, every 50 steps) after the first (which holds compilation),
evaluation excluded; the validation loss is the trainer's after the last step. With
--torch_python (a Python with torch and numpy, e.g. `python3.11 -m venv .venv-torch &&
.venv-torch/bin/pip install -r launch/requirements-torch.txt`), the same shape in
PyTorch (`launch/torch_gpt_reference.py`) is timed right after and the ratio printed.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags, logging

from launch import xla_flags

_STEPS = flags.DEFINE_integer("steps", 300, "Train steps of each model.")
_TORCH_PYTHON = flags.DEFINE_string("torch_python", "", "Python with torch installed (empty: JAX only).")
_OVERRIDES = flags.DEFINE_multi_string("set", [], "Config overrides of ours, e.g. train.steps_per_dispatch=25.")
_REPEATS = flags.DEFINE_integer("repeats", 1, "Alternate ours and PyTorch this many times (noisy machines).")


def _config():
  import importlib.util
  path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs",
                      "lm_shakespeare_char.py")
  spec = importlib.util.spec_from_file_location("lm_shakespeare_char", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config("bench")
  config.train.num_steps = _STEPS.value
  config.train.progress_bar = False
  config.lm.report_tokens = 0
  for item in _OVERRIDES.value:
    key, value = item.split("=", 1)
    *parents, leaf = key.split(".")
    node = config
    for p in parents:
      node = node[p]
    node[leaf] = type(node[leaf])(value) if not isinstance(node[leaf], bool) else value == "True"
  return config


def run_ours() -> dict:
  from bigmodel_jax.engine import trainer
  from bigmodel_jax.engine.metric_writer import read_metrics
  config = _config()
  with tempfile.TemporaryDirectory() as workdir:
    summary = trainer.train_and_evaluate(config, workdir)
    rates = [r["train/tokens_per_sec"] for r in read_metrics(workdir) if "train/tokens_per_sec" in r]
    mfu = [r["train/mfu"] for r in read_metrics(workdir) if "train/mfu" in r]
  return {"framework": "jax (bigmodel_jax)", "tokens_per_sec": statistics.median(rates[1:] or rates),
          "mfu": statistics.median(mfu[1:] or mfu), "val_loss": summary["test"]["loss"],
          "steps_per_dispatch": config.train.steps_per_dispatch, "windows": [round(r) for r in rates]}


def run_torch(python: str) -> dict:
  script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_gpt_reference.py")
  corpus = os.path.join("data", "shakespeare", "shakespeare.txt")
  out = subprocess.run([python, script, f"--corpus={corpus}", f"--steps={_STEPS.value}"],
                       check=True, capture_output=True, text=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def main(argv):
  del argv
  xla_flags.set_defaults()
  logging.set_verbosity(logging.FATAL)   # Orbax logs every checkpoint at INFO.
  for _ in range(_REPEATS.value):
    ours = run_ours()
    print(json.dumps(ours))
    if _TORCH_PYTHON.value:
      theirs = run_torch(_TORCH_PYTHON.value)
      print(json.dumps(theirs))
      print(f"ours / PyTorch tokens/s: {ours['tokens_per_sec'] / theirs['tokens_per_sec']:.2f}x "
            f"(val loss after {_STEPS.value} steps: ours {ours['val_loss']:.3f}, PyTorch {theirs['val_loss']:.3f})")
    sys.stdout.flush()


if __name__ == "__main__":
  app.run(main)
