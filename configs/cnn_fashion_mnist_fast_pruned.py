r"""Global magnitude pruning of the trained `cnn_fashion_mnist_fast` to 80% sparse kernels, fine-tuned 1 epoch.

  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fast
  python -m launch.main --config=configs/cnn_fashion_mnist_fast_pruned.py --workdir=runs/cnn_fast_pruned80
  python -m launch.main --config=configs/cnn_fashion_mnist_fast_pruned.py --workdir=runs/cnn_fast_pruned90 \
      --config.prune.sparsity=0.9

The sparsity ramps (cubic) over the first 60% of the epoch, masks recomputed every 25
steps; the rest fine-tunes at the final sparsity. Hardware: 2-core CPU. Results in
WORKSPACE.md ("Compress, explain, protect"). `:tiny` runs 20 steps from scratch.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment

# Measured after training runs/cnn_fast (91.24%); 80% sparse kernels, 1 epoch of fine-tuning.
CLAIM = dict(metric="test.accuracy", value=0.9126, tolerance=0.003, higher_is_better=True,
             hardware="2-core CPU", train_minutes=0.21, measured="2026-12-03")


def get_config(arg=None):
  c = experiment(
      "supervised", init_from="runs/cnn_fast",
      model=sections.model("cnn", batch_norm=True),      # cnn_fashion_mnist_fast's model.
      optimizer=dict(learning_rate=1e-3, schedule="warmup_cosine", warmup_steps=50),
      prune=dict(sparsity=0.8, ramp_fraction=0.6, update_every_steps=25),
      train=dict(batch_size=64, num_epochs=1))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  c.init_from = ""
  sections.short_run(c, num_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10)
  c.prune.update_every_steps = 5
