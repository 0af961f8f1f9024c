r"""Training speed of the reference-shaped GPT, ours beside PyTorch's, in one run on one machine.

  python -m launch.benchmark lm [--torch_python=.venv-torch/bin/python] [--config.train.num_steps=300]
  python -m launch.benchmark lm --config.model.positions=rotary      # ours only, another model

Ours: --config (`configs/lm_shakespeare_char.py:bench`: 4 blocks, 4 heads, 128 dims,
context 64, batch 12, AdamW lr 1e-3, no dropout, learned positions, 300 steps) trained by
the shared trainer on one device; tokens/s is the median of the trainer's logged windows
(train/tokens_per_sec, every `train.log_every_steps` = 50 steps) after the first (which
holds compilation), evaluation excluded; the validation loss is the trainer's after the
last step. With --torch_python (a Python with torch and numpy, e.g. `python3.11 -m venv
.venv-torch && .venv-torch/bin/pip install -r launch/requirements-torch.txt`), the same
shape in PyTorch (`launch/torch_gpt_reference.py`, given the config's steps, batch,
context and log window) is timed right after and the ratio printed; with --nanogpt_dir
(a nanoGPT checkout) nanoGPT's own `train.py` trains the same shape on the same corpus
with that Python (`nanogpt.py`); with --repeats the sides take turns.

  python -m launch.benchmark lm --torch_python=.venv-torch/bin/python --nanogpt_dir=<nanoGPT checkout>
"""
import json
import os
import subprocess
import tempfile

from absl import flags

from launch.benchmarks import harness, nanogpt

_CONFIG = harness.config_flag("configs/lm_shakespeare_char.py:bench", "Our side's config")
_TORCH_PYTHON = flags.DEFINE_string("torch_python", "", "Python with torch installed (empty: ours only).")
_NANOGPT_DIR = flags.DEFINE_string("nanogpt_dir", "", "A nanoGPT checkout: its train.py, run with --torch_python, "
                                   "is a side too (empty: not run).")
_REPEATS = harness.repeats_flag()
TORCH_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "torch_gpt_reference.py")


def run_ours(config) -> dict:
  from bigmodel_jax.engine import trainer
  with tempfile.TemporaryDirectory() as workdir:
    summary = trainer.train_and_evaluate(config, workdir)
    rates = harness.logged_rates(workdir, "train/tokens_per_sec")
    mfu = harness.logged_rates(workdir, "train/mfu")
  return {"framework": "jax (bigmodel_jax)", "tokens_per_sec": harness.steady_median(rates),
          "mfu": harness.steady_median(mfu) if mfu else None, "val_loss": summary["test"]["loss"],
          "steps_per_dispatch": config.train.steps_per_dispatch, "windows": [round(r) for r in rates]}


def torch_command(python: str, config) -> list:
  corpus = corpus_path(config)
  return [python, TORCH_SCRIPT, f"--corpus={corpus}", f"--steps={config.train.num_steps}",
          f"--batch={config.train.batch_size}", f"--context={config.data.seq_len}",
          f"--window={config.train.log_every_steps}"]


def corpus_path(config) -> str:
  return os.path.join(config.data.data_dir or os.path.join("data", "shakespeare"), "shakespeare.txt")


def run_torch(python: str, config) -> dict:
  out = subprocess.run(torch_command(python, config), check=True, capture_output=True, text=True).stdout
  return json.loads(out.strip().splitlines()[-1])


def run(argv):
  del argv
  config = harness.loaded_config(_CONFIG)
  config.train.progress_bar = False
  config.lm.report_tokens = 0   # No sample: its generation is not training.
  report = harness.Report("lm", config)
  sides = {"ours": lambda: run_ours(config)}
  if _NANOGPT_DIR.value and not _TORCH_PYTHON.value:
    raise SystemExit("error: --nanogpt_dir needs --torch_python (a Python with torch and numpy)")
  if _NANOGPT_DIR.value:
    nanogpt.check_checkout(_NANOGPT_DIR.value)
    sides["nanoGPT"] = lambda: nanogpt.run(_TORCH_PYTHON.value, _NANOGPT_DIR.value, config, corpus_path(config))
  if _TORCH_PYTHON.value:
    sides["PyTorch"] = lambda: run_torch(_TORCH_PYTHON.value, config)
  ours = {}
  for round_, side, result in harness.take_turns(sides, _REPEATS.value):
    report.row({"round": round_, "side": side, **result}, json.dumps(result))
    if side == "ours":
      ours = result
    else:
      report.compare(f"tokens/s against {side}", ("ours", ours["tokens_per_sec"]), (side, result["tokens_per_sec"]),
                     "tokens/s", lower_is_better=False)
      print(f"val loss after {config.train.num_steps} steps: ours {ours['val_loss']:.3f}, "
            f"{side} {result['val_loss']:.3f}")
  report.finish()
