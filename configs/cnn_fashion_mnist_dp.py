r"""DP-SGD on Fashion-MNIST: a small CNN (no batch norm) with per-example clipping and Gaussian noise.

  python -m launch.main --config=configs/cnn_fashion_mnist_dp.py --workdir=runs/cnn_dp

Clip 1.0, noise multiplier 0.8, batch 256, Adam; the run ends at the last step with
epsilon <= 3 at delta = 1e-5 (dp-accounting RDP, Poisson-subsampled Gaussian) or after
5 epochs (epsilon ~2.0). Hardware: 2-core CPU. Results in WORKSPACE.md ("Compress,
explain, protect"). `:tiny` runs 20 steps.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("cnn", features=(16, 32), kernel_size=5, dense_features=64),
      optimizer=dict(learning_rate=2e-3, schedule="warmup_cosine", warmup_steps=50),
      dp=dict(clip_norm=1.0, noise_multiplier=0.8, delta=1e-5, target_epsilon=3.0),
      train=dict(batch_size=256, num_epochs=5, log_every_steps=50))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  sections.short_run(c, num_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10)
  c.optimizer.warmup_steps = 5
