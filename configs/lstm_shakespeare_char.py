r"""The LSTM baseline: a 2-layer character LSTM on Shakespeare, same data and trainer as the GPT.

  python -m launch.main --config=configs/lstm_shakespeare_char.py --workdir=runs/lstm_char
  python -m launch.main --config=configs/lstm_shakespeare_char.py --workdir=runs/lstm_char --mode=sample \
      --prompt="ROMEO:"

Embedding 64 -> 2 LSTM layers of 256 -> dense logits, context 128, batch 32, AdamW
with warm-up and cosine decay. Sampling recomputes the whole sequence per token (no
cache). 0.88M parameters. Hardware: 2-core CPU. Measured 2026-11-23 (CPU shared, load
6 -> 2.5): val loss 1.659 at step 1000 (~6.5 min), 1.551 at step 2000 (10.2 min), then
stopped; the full 4000 steps not yet run (WORKSPACE.md, Language models).
`:tiny` trains a 1-layer, 32-unit LSTM for 20 steps (tests).
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "lm"                  # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, windows and dropout.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "lstm"              # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.num_layers = 2
  c.model.embed_dim = 64
  c.model.hidden_dim = 256
  c.model.dropout = 0.0              # Between LSTM layers.
  c.model.dtype = "float32"

  c.data = ml_collections.ConfigDict()
  c.data.name = "shakespeare"        # shakespeare | files | tfds (bigmodel_jax.data.text.CORPORA)
  c.data.data_dir = ""               # "" = data/shakespeare (launch.fetch_data --dataset=shakespeare).
  c.data.files = ""                  # data.name == "files": comma-separated paths or globs.
  c.data.tfds_name = ""              # data.name == "tfds": e.g. tiny_shakespeare, lm1b.
  c.data.tokenizer = "char"          # char | byte
  c.data.validation_fraction = 0.1   # The last 10% of the corpus.
  c.data.seq_len = 128               # Tokens per training window (the LSTM starts each from zero state).
  c.data.eval_windows = 2000         # Validation windows per evaluation (-1 = the whole split).

  c.optimizer = sections.optimizer(name="adamw", learning_rate=3e-3, schedule="warmup_cosine",
                                   warmup_steps=200, final_lr_fraction=0.05, b2=0.99,
                                   weight_decay=0.01, grad_clip_norm=1.0)
  c.train = sections.train(batch_size=32, num_steps=4000, steps_per_dispatch=50, log_every_steps=250,
                           eval_every_steps=1000)
  c.eval = sections.evaluation(batch_size=100)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh()           # Replicated parameters, batch over `data`.

  c.lm = ml_collections.ConfigDict()
  c.lm.prompt = "\n"                 # Default text to continue (--prompt overrides).
  c.lm.num_tokens = 300              # Default sample length (--num_tokens overrides).
  c.lm.temperature = 0.8             # 0 = greedy.
  c.lm.top_k = 0                     # Keep the k most likely tokens (0 = all).
  c.lm.top_p = 0.95                  # Nucleus sampling (1 = all).
  c.lm.cache = True                  # Ignored: the LSTM recomputes the sequence per token.
  c.lm.report_tokens = 200           # Sample written to sample.txt at the end of training (0 = none).

  if arg == "tiny":
    c.model.update(num_layers=1, embed_dim=16, hidden_dim=32)
    c.data.update(seq_len=16, eval_windows=16)
    c.train.update(batch_size=16, num_steps=20, steps_per_dispatch=5, log_every_steps=5, eval_every_steps=10)
    c.eval.batch_size = 8
    c.checkpoint.every_steps = 10
    c.optimizer.update(warmup_steps=5, learning_rate=2e-2)
    c.lm.update(num_tokens=8, report_tokens=0)
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
