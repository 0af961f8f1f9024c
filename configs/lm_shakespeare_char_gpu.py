r"""A 10.7M-parameter character GPT on Shakespeare, for one GPU (bf16 compute, float32 parameters).

  python -m launch.main --config=configs/lm_shakespeare_char_gpu.py --workdir=runs/lm_char_gpu

6 blocks, 6 heads, 384 dims, context 256, batch 64, dropout 0.2, learned positions,
AdamW 1e-3 with warm-up and cosine decay over 5000 steps: 10.68M parameters without
the position table (10.78M with it). Hardware: one GPU. Target: validation loss
<= 1.50. Time and result: not measured (no GPU was available when it was written).
`:tiny` is a 20-step smoke test of the same code path in bf16.
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "lm"                  # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, windows and dropout.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "transformer"       # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.num_layers = 6
  c.model.num_heads = 6
  c.model.embed_dim = 384
  c.model.mlp_ratio = 4              # MLP width = 4 x 384.
  c.model.max_len = 256              # Learned positions' table size.
  c.model.positions = "learned"      # learned | rotary
  c.model.norm = "layernorm"         # layernorm | rmsnorm
  c.model.dropout = 0.2
  c.model.attention = "fused"        # fused (cuDNN on GPUs) | reference
  c.model.remat = False              # Recompute block activations in the backward pass.
  c.model.dtype = "bfloat16"         # Compute dtype; parameters stay float32.

  c.data = ml_collections.ConfigDict()
  c.data.name = "shakespeare"        # shakespeare | files | tfds (bigmodel_jax.data.text.CORPORA)
  c.data.data_dir = ""               # "" = data/shakespeare (launch.fetch_data --dataset=shakespeare).
  c.data.files = ""                  # data.name == "files": comma-separated paths or globs.
  c.data.tfds_name = ""              # data.name == "tfds": e.g. tiny_shakespeare, lm1b.
  c.data.tokenizer = "char"          # char | byte
  c.data.validation_fraction = 0.1   # The last 10% of the corpus.
  c.data.seq_len = 256               # Context.
  c.data.eval_windows = -1           # The whole validation split.

  c.optimizer = sections.optimizer(name="adamw", learning_rate=1e-3, schedule="warmup_cosine",
                                   warmup_steps=100, final_lr_fraction=0.1, b2=0.99,
                                   weight_decay=0.1, grad_clip_norm=1.0)
  c.train = sections.train(batch_size=64, num_steps=5000, steps_per_dispatch=50, log_every_steps=100,
                           eval_every_steps=500)
  c.eval = sections.evaluation(batch_size=64)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh(param_sharding="logical", rules=(("batch", "data"),))

  c.lm = ml_collections.ConfigDict()
  c.lm.prompt = "\n"                 # Default text to continue (--prompt overrides).
  c.lm.num_tokens = 200              # Default sample length (--num_tokens overrides; <= 256 with the prompt).
  c.lm.temperature = 0.8             # 0 = greedy.
  c.lm.top_k = 0                     # Keep the k most likely tokens (0 = all).
  c.lm.top_p = 0.95                  # Nucleus sampling (1 = all).
  c.lm.cache = True                  # KV-cache decoding; False = full recompute per token.
  c.lm.report_tokens = 200           # Sample written to sample.txt at the end of training (0 = none).

  if arg == "tiny":
    c.model.update(num_layers=2, num_heads=2, embed_dim=32, max_len=32)
    c.data.update(seq_len=16, eval_windows=16)
    c.train.update(batch_size=16, num_steps=20, steps_per_dispatch=5, log_every_steps=5, eval_every_steps=10)
    c.eval.batch_size = 8
    c.checkpoint.every_steps = 10
    c.optimizer.warmup_steps = 5
    c.lm.update(num_tokens=8, report_tokens=8)
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
