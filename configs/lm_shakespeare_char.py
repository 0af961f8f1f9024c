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
(tests). `:bench` is the shape of the PyTorch reference GPT (launch/benchmark_lm.py).
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
  c.model.num_layers = 4
  c.model.num_heads = 4
  c.model.embed_dim = 128
  c.model.mlp_ratio = 4              # MLP width = 4 x 128.
  c.model.max_len = 128              # Learned positions' table size (unused with rotary).
  c.model.positions = "rotary"       # learned | rotary
  c.model.norm = "layernorm"         # layernorm | rmsnorm
  c.model.dropout = 0.0
  c.model.attention = "fused"        # fused (jax.nn.dot_product_attention) | reference
  c.model.remat = False              # Recompute block activations in the backward pass.
  c.model.dtype = "float32"          # Compute dtype ("bfloat16" on accelerators).

  c.data = ml_collections.ConfigDict()
  c.data.name = "shakespeare"        # shakespeare | files | tfds (bigmodel_jax.data.text.CORPORA)
  c.data.data_dir = ""               # "" = data/shakespeare (filled by launch.fetch_data --dataset=shakespeare).
  c.data.files = ""                  # data.name == "files": comma-separated paths or globs.
  c.data.tfds_name = ""              # data.name == "tfds": e.g. tiny_shakespeare, lm1b.
  c.data.tokenizer = "char"          # char (the corpus's characters) | byte (256 symbols)
  c.data.validation_fraction = 0.1   # The last 10% of the corpus.
  c.data.seq_len = 128               # Context: tokens per training window.
  c.data.eval_windows = 500          # Validation windows per evaluation (-1 = the whole split: 3951).

  c.optimizer = sections.optimizer(name="adamw", learning_rate=2e-3, schedule="warmup_cosine",
                                   warmup_steps=200, final_lr_fraction=0.05, b2=0.99,
                                   weight_decay=0.1, grad_clip_norm=1.0)
  c.train = sections.train(batch_size=32, num_steps=3000, steps_per_dispatch=50, log_every_steps=250,
                           eval_every_steps=250)
  c.eval = sections.evaluation(batch_size=100)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh(param_sharding="logical", rules=(("batch", "data"),))

  c.lm = ml_collections.ConfigDict()
  c.lm.prompt = "\n"                 # Default text to continue (--prompt overrides).
  c.lm.num_tokens = 500              # Default sample length (--num_tokens overrides).
  c.lm.temperature = 0.8             # 0 = greedy.
  c.lm.top_k = 0                     # Keep the k most likely tokens (0 = all).
  c.lm.top_p = 0.95                  # Nucleus: the smallest set with this much probability (1 = all).
  c.lm.cache = True                  # KV-cache decoding (models that have one); False = full recompute.
  c.lm.report_tokens = 300           # Sample written to sample.txt at the end of training (0 = none).

  if arg == "tiny":
    c.model.update(num_layers=1, num_heads=2, embed_dim=32, max_len=32, positions="learned")
    c.data.update(seq_len=16, eval_windows=16)
    c.train.update(batch_size=16, num_steps=20, steps_per_dispatch=5, log_every_steps=5, eval_every_steps=10)
    c.eval.batch_size = 8
    c.checkpoint.every_steps = 10
    c.optimizer.update(warmup_steps=5, learning_rate=1e-2)
    c.lm.update(num_tokens=8, report_tokens=8)
  elif arg == "bench":   # The PyTorch reference's shape: learned positions, no dropout, lr 1e-3.
    c.model.update(positions="learned", max_len=64)
    c.data.seq_len = 64
    c.optimizer.update(learning_rate=1e-3, schedule="constant", warmup_steps=0, b2=0.999,
                       weight_decay=0.01, grad_clip_norm=0.0, final_lr_fraction=0.0)
    c.train.update(batch_size=12, num_steps=300, log_every_steps=50, eval_every_steps=300)
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny', 'bench' or nothing")
  return c
