"""The LM benchmark's peer: nanoGPT's own `train.py`, from a checkout the user gives, run unedited.

nanoGPT reads its data set from `data/<dataset>/{train,val}.bin` and `meta.pkl` and its
overrides through `configurator.py`, both relative to the working directory; so it runs
in a scratch directory holding our corpus encoded that way (first 90% train, last 10%
validation, one uint16 per character, characters sorted as our tokenizer sorts them) and
a link to the checkout's `configurator.py`. Its settings are given on its command line
to match our config: shape, batch, steps, constant AdamW learning rate, weight decay,
beta2, no dropout, no clipping, float32 on the CPU without torch.compile. tokens/s is
batch x context / the median of its logged step times (the steps that also evaluated
excluded); the validation loss is the one it prints after the last step.
"""
import os
import pickle
import re
import statistics
import subprocess
import tempfile

import numpy as np

from bigmodel_jax.errors import ConfigError

DATASET = "bigmodel_corpus"
_STEP = re.compile(r"^iter (\d+): loss [\d.]+, time ([\d.]+)ms", re.M)
_VAL = re.compile(r"^step (\d+): train loss [\d.]+, val loss ([\d.]+)", re.M)


def check_checkout(nanogpt_dir: str) -> None:
  for name in ("train.py", "model.py", "configurator.py"):
    if not os.path.isfile(os.path.join(nanogpt_dir, name)):
      raise ConfigError(f"--nanogpt_dir={nanogpt_dir!r}: no {name} there; give a nanoGPT checkout")


def write_dataset(corpus_path: str, folder: str) -> int:
  """Our corpus as nanoGPT's character data set in `folder`/data/DATASET; returns the vocabulary size."""
  with open(corpus_path, encoding="utf-8") as f:
    text = f.read()
  chars = sorted(set(text))
  index = {c: i for i, c in enumerate(chars)}
  ids = np.fromiter((index[c] for c in text), dtype=np.uint16, count=len(text))
  out = os.path.join(folder, "data", DATASET)
  os.makedirs(out, exist_ok=True)
  cut = int(0.9 * len(ids))
  ids[:cut].tofile(os.path.join(out, "train.bin"))
  ids[cut:].tofile(os.path.join(out, "val.bin"))
  with open(os.path.join(out, "meta.pkl"), "wb") as f:
    pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": index}, f)
  return len(chars)


def arguments(config, out_dir: str) -> list:
  """nanoGPT's overrides for the shape and optimiser of our config."""
  m, o, t = config.model, config.optimizer, config.train
  steps = t.num_steps
  return [f"--dataset={DATASET}", f"--out_dir={out_dir}", f"--n_layer={m.num_layers}", f"--n_head={m.num_heads}",
          f"--n_embd={m.embed_dim}", f"--block_size={config.data.seq_len}", f"--batch_size={t.batch_size}",
          "--gradient_accumulation_steps=1", f"--max_iters={steps}", f"--eval_interval={steps}", "--eval_iters=200",
          "--log_interval=1", f"--learning_rate={o.learning_rate}", "--decay_lr=False",
          f"--weight_decay={o.weight_decay}", f"--beta2={o.b2}", "--grad_clip=0.0", "--dropout=0.0",
          "--device=cpu", "--dtype=float32", "--compile=False", "--always_save_checkpoint=False"]


def parse_log(log: str, batch: int, context: int, last_step: int) -> dict:
  """tokens/s from the median step time (steps 0 and last_step, which also evaluate, left out)
  and the validation loss printed at last_step."""
  times = [float(ms) for step, ms in _STEP.findall(log) if 0 < int(step) < last_step]
  val = [float(loss) for step, loss in _VAL.findall(log) if int(step) == last_step]
  if not times or not val:
    raise RuntimeError(f"nanoGPT's log has no step times or no validation loss at step {last_step}:\n{log[-2000:]}")
  return {"framework": "PyTorch (nanoGPT train.py)", "tokens_per_sec": batch * context / (statistics.median(times) / 1e3),
          "val_loss": val[0], "median_step_ms": statistics.median(times)}


def run(python: str, nanogpt_dir: str, config, corpus_path: str) -> dict:
  """One nanoGPT training run of our config's shape on our corpus, in a scratch directory."""
  check_checkout(nanogpt_dir)
  with tempfile.TemporaryDirectory() as folder:
    write_dataset(corpus_path, folder)
    os.symlink(os.path.join(os.path.abspath(nanogpt_dir), "configurator.py"), os.path.join(folder, "configurator.py"))
    python = os.path.abspath(python) if os.sep in python else python   # It runs in the scratch directory.
    command = [python, os.path.join(os.path.abspath(nanogpt_dir), "train.py"),
               *arguments(config, os.path.join(folder, "out"))]
    done = subprocess.run(command, cwd=folder, capture_output=True, text=True, check=False)
  if done.returncode != 0:
    raise RuntimeError(f"nanoGPT's train.py failed ({done.returncode}):\n{done.stderr[-2000:]}")
  return parse_log(done.stdout, config.train.batch_size, config.data.seq_len, config.train.num_steps)
