r"""A 10.7M-parameter character GPT on Shakespeare, for one GPU (bf16 compute, float32 parameters).

  python -m launch.main --config=configs/lm_shakespeare_char_gpu.py --workdir=runs/lm_char_gpu

6 blocks, 6 heads, 384 dims, context 256, batch 64, dropout 0.2, learned positions,
AdamW 1e-3 with warm-up and cosine decay over 5000 steps: 10.68M parameters without
the position table (10.78M with it). Hardware: one GPU. Target: validation loss
<= 1.50. Time and result: not measured (no GPU was available when it was written).
`:tiny` is a 20-step smoke test of the same code path in bf16.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.lm import workload as lm


def get_config(arg=None):
  c = experiment(
      "lm",
      model=sections.model("transformer", num_layers=6, num_heads=6, embed_dim=384, dropout=0.2,
                           dtype="bfloat16"),
      data=dict(seq_len=256, eval_windows=-1),
      optimizer=dict(name="adamw", schedule="warmup_cosine", warmup_steps=100, final_lr_fraction=0.1,
                     b2=0.99, weight_decay=0.1, grad_clip_norm=1.0),
      lm=dict(num_tokens=200, report_tokens=200),
      train=dict(batch_size=64, num_steps=5000, steps_per_dispatch=50, eval_every_steps=500),
      eval=dict(batch_size=64),
      mesh=dict(param_sharding="logical", rules=(("batch", "data"),)))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  lm.tiny(c)
  c.model.update(num_layers=2, num_heads=2, embed_dim=32, max_len=32)
