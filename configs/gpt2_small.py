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
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "lm"                  # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, windows and dropout.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "transformer"       # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.num_layers = 12
  c.model.num_heads = 12
  c.model.embed_dim = 768
  c.model.mlp_ratio = 4              # MLP width = 3072.
  c.model.max_len = 1024             # Learned positions' table size.
  c.model.positions = "learned"      # learned | rotary
  c.model.norm = "layernorm"         # layernorm | rmsnorm
  c.model.dropout = 0.0
  c.model.attention = "fused"        # fused (cuDNN on GPUs) | reference
  c.model.remat = True               # Recompute block activations in the backward pass (memory).
  c.model.dtype = "bfloat16"         # Compute dtype; parameters stay float32.

  c.data = ml_collections.ConfigDict()
  c.data.name = "shakespeare"        # shakespeare | files | tfds (bigmodel_jax.data.text.CORPORA)
  c.data.data_dir = ""               # "" = data/shakespeare (launch.fetch_data --dataset=shakespeare).
  c.data.files = ""                  # data.name == "files": comma-separated paths or globs.
  c.data.tfds_name = ""              # data.name == "tfds": e.g. lm1b.
  c.data.tokenizer = "byte"          # 256 symbols: any text, exact round trip.
  c.data.validation_fraction = 0.1   # The last 10% of the corpus.
  c.data.seq_len = 1024              # Context.
  c.data.eval_windows = 256          # Validation windows per evaluation (-1 = the whole split).

  c.optimizer = sections.optimizer(name="adamw", learning_rate=6e-4, schedule="warmup_cosine",
                                   warmup_steps=500, final_lr_fraction=0.1, b2=0.95,
                                   weight_decay=0.1, grad_clip_norm=1.0)
  c.train = sections.train(batch_size=32, num_steps=10000, steps_per_dispatch=10, log_every_steps=50,
                           eval_every_steps=1000)
  c.eval = sections.evaluation(batch_size=32)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh(param_sharding="logical", rules=(("batch", "data"), ("embed", "data")))

  c.lm = ml_collections.ConfigDict()
  c.lm.prompt = "\n"                 # Default text to continue (--prompt overrides).
  c.lm.num_tokens = 500              # Default sample length (--num_tokens overrides).
  c.lm.temperature = 0.8             # 0 = greedy.
  c.lm.top_k = 0                     # Keep the k most likely tokens (0 = all).
  c.lm.top_p = 0.95                  # Nucleus sampling (1 = all).
  c.lm.cache = True                  # KV-cache decoding; False = full recompute per token.
  c.lm.report_tokens = 300           # Sample written to sample.txt at the end of training (0 = none).

  if arg == "tiny":
    c.model.update(num_layers=2, num_heads=2, embed_dim=64, max_len=32)
    c.data.update(seq_len=16, eval_windows=16)
    c.train.update(batch_size=16, num_steps=20, steps_per_dispatch=5, log_every_steps=5, eval_every_steps=10)
    c.eval.batch_size = 8
    c.checkpoint.every_steps = 10
    c.optimizer.warmup_steps = 5
    c.lm.update(num_tokens=8, report_tokens=8)
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
