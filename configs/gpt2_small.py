r"""GPT-2 small's shape, byte level, for accelerators: 12 blocks, 12 heads, 768 dims, context 1024.

  python -m launch.main --config=configs/gpt2_small.py --workdir=runs/gpt2_small
  python -m launch.main --config=configs/gpt2_small.py --workdir=runs/gpt2_small --config.mesh.model=4 \
      --config.mesh.rules="(('batch','data'),('heads','model'),('mlp','model'))"   # tensor parallel

With 256 byte symbols instead of GPT-2's 50,257 BPE tokens the embedding is small, so
the model has 85.25M parameters (86.04M with the learned position table), not 124M; the
blocks are GPT-2 small's. bf16 compute, float32 parameters, fused attention (cuDNN on
GPUs), per-block rematerialisation, batch 32 x 1024 tokens, on Shakespeare's bytes
(or any text: data.name="files" / "tfds"). Parameters and optimizer state are sharded
FSDP-style over `data` by the rules below. Target on one H100: >= 40% MFU in bf16.
Time and result: not measured (no GPU was available when it was written). `:tiny`
is a 2-block, 64-dim smoke test of the same path.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.lm import workload as lm


def get_config(arg=None):
  c = experiment(
      "lm",
      model=sections.model("transformer", num_layers=12, num_heads=12, embed_dim=768, max_len=1024,
                           remat=True, dtype="bfloat16"),
      data=dict(tokenizer="byte", seq_len=1024, eval_windows=256),
      optimizer=dict(name="adamw", learning_rate=6e-4, schedule="warmup_cosine", warmup_steps=500,
                     final_lr_fraction=0.1, b2=0.95, weight_decay=0.1, grad_clip_norm=1.0),
      train=dict(batch_size=32, num_steps=10_000, steps_per_dispatch=10, log_every_steps=50,
                 eval_every_steps=1000),
      eval=dict(batch_size=32),
      mesh=dict(param_sharding="logical", rules=(("batch", "data"), ("embed", "data"))))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  lm.tiny(c)
  c.model.update(num_layers=2, num_heads=2, embed_dim=64, max_len=32)
