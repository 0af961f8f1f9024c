r"""Global magnitude pruning of a trained character LM (`lm_shakespeare_char`) to 80% sparse kernels,
fine-tuned 120 steps from it.

  python -m launch.main --config=configs/lm_shakespeare_char.py --workdir=runs/lm_char_1k \
      --config.train.num_steps=1000
  python -m launch.main --config=configs/lm_shakespeare_char_pruned.py --workdir=runs/lm_char_pruned80
  python -m launch.main --config=configs/lm_shakespeare_char_pruned.py --workdir=runs/lm_char_pruned90 \
      --config.prune.sparsity=0.9
  python -m launch.sparsity_plot --metric=loss \
      --runs=runs/lm_char_pruned0,runs/lm_char_pruned50,runs/lm_char_pruned80 --out=runs/lm_sparsity.png

Every matrix is pruned under one threshold: the attention and MLP kernels, the tied token
embedding (also the output head) and nothing else. The sparsity ramps (cubic) over the first
60% of the 120 steps, masks recomputed every 8 steps; the rest fine-tunes at the final
sparsity. `--config.prune.sparsity=0` is the dense baseline fine-tuned the same way.
Hardware: 2-core CPU. Results in WORKSPACE.md ("Compress, explain, protect", the language
model). Measured 2026-12-03 (2-core CPU): validation loss 1.8757 at 80% (dense
fine-tune 1.6935), 1.7077 at 50%, 2.2668 at 90%, 2.6689 at 95%; 50-70 s of training each (load 3.7-8).
`:tiny` prunes a 1-layer model from scratch for 20 steps (tests).
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.lm import workload as lm

# Measured from runs/lm_char_1k (1000 steps, validation loss 1.7067); the dense 120-step fine-tune: 1.6935.
CLAIM = dict(metric="test.loss", value=1.8757, tolerance=0.02, higher_is_better=False,
             hardware="2-core CPU", train_minutes=1.2, measured="2026-12-03")


def get_config(arg=None):
  c = experiment(
      "lm", init_from="runs/lm_char_1k",
      model=sections.model("transformer", max_len=128, positions="rotary"),   # lm_shakespeare_char's model.
      optimizer=dict(name="adamw", learning_rate=5e-4, schedule="warmup_cosine", warmup_steps=20,
                     final_lr_fraction=0.1, b2=0.99, weight_decay=0.1, grad_clip_norm=1.0),
      prune=dict(sparsity=0.8, ramp_fraction=0.6, update_every_steps=8),
      train=dict(batch_size=32, num_steps=120, steps_per_dispatch=8, log_every_steps=40, eval_every_steps=-1),
      eval=dict(batch_size=100),
      lm=dict(report_tokens=0),                  # No sample: the comparison is the validation loss.
      mesh=dict(param_sharding="logical", rules=(("batch", "data"),)))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  c.init_from = ""
  lm.tiny(c)
  c.model.update(num_layers=1, num_heads=2, embed_dim=32, max_len=32, positions="learned")
  c.prune.update_every_steps = 5
