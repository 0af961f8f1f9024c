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
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.lm import workload as lm


def get_config(arg=None):
  c = experiment(
      "lm",
      model=sections.model("lstm", embed_dim=64),
      data=dict(eval_windows=2000),
      optimizer=dict(name="adamw", learning_rate=3e-3, schedule="warmup_cosine", warmup_steps=200,
                     final_lr_fraction=0.05, b2=0.99, weight_decay=0.01, grad_clip_norm=1.0),
      lm=dict(num_tokens=300, report_tokens=200),
      train=dict(batch_size=32, num_steps=4000, steps_per_dispatch=50, log_every_steps=250,
                 eval_every_steps=1000),
      eval=dict(batch_size=100))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  lm.tiny(c)
  c.model.update(num_layers=1, embed_dim=16, hidden_dim=32)
  c.optimizer.learning_rate = 2e-2
  c.lm.report_tokens = 0
