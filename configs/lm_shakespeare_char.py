r"""The default language model: a small character-level GPT on the complete works of Shakespeare.

  python -m launch.fetch_data --dataset=shakespeare       # once
  python -m launch.main --config=configs/lm_shakespeare_char.py --workdir=runs/lm_char
  python -m launch.main --config=configs/lm_shakespeare_char.py --workdir=runs/lm_char --mode=sample \
      --prompt="ROMEO:" --num_tokens=300
  python -m launch.main --config=configs/lm_shakespeare_char.py --workdir=runs/lm_char --mode=eval

4 pre-norm blocks, 4 heads, 128 dims, rotary positions, context 128, batch 32, AdamW
with warm-up and cosine decay over 3000 steps (12.3M tokens); 0.80M parameters.
Hardware: 2-core CPU, no accelerator. Target: validation loss <= 1.70 within 15 minutes.
Measured 2026-11-23 on an otherwise idle 2-core CPU (load ~2): val loss 1.678 at step
1250 (~5 min), 1.554 at step 3000 after 744 s of training (12.4 min, ~16.6k tokens/s)
(WORKSPACE.md, Language models). `:tiny` trains a 1-layer, 32-dim model for 20 steps
(tests). `:bench` is the shape of the PyTorch reference GPT (`python -m launch.benchmark lm`).
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.lm import workload as lm


def get_config(arg=None):
  c = experiment(
      "lm",
      model=sections.model("transformer", max_len=128, positions="rotary"),
      optimizer=dict(name="adamw", learning_rate=2e-3, schedule="warmup_cosine", warmup_steps=200,
                     final_lr_fraction=0.05, b2=0.99, weight_decay=0.1, grad_clip_norm=1.0),
      train=dict(batch_size=32, num_steps=3000, steps_per_dispatch=50, log_every_steps=250,
                 eval_every_steps=250),
      eval=dict(batch_size=100),
      mesh=dict(param_sharding="logical", rules=(("batch", "data"),)))
  return sections.with_variant(c, arg, tiny=tiny, bench=bench)


def tiny(c):
  lm.tiny(c)
  c.model.update(num_layers=1, num_heads=2, embed_dim=32, max_len=32, positions="learned")
  c.optimizer.learning_rate = 1e-2


def bench(c):
  """The PyTorch reference GPT's shape (`python -m launch.benchmark lm`): learned positions, no dropout, lr 1e-3."""
  c.model.update(positions="learned", max_len=64)
  c.data.seq_len = 64
  c.optimizer.update(learning_rate=1e-3, schedule="constant", warmup_steps=0, b2=0.999,
                     weight_decay=0.01, grad_clip_norm=0.0, final_lr_fraction=0.0)
  c.train.update(batch_size=12, num_steps=300, log_every_steps=50, eval_every_steps=300)
