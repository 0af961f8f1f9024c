r"""A small CNN on scikit-learn's bundled 8x8 digits: the quickest real-data run.

  python -m launch.main --config=configs/cnn_digits.py --workdir=runs/digits

Hardware: 2-core CPU. Time: < 1 minute. Expected: ~98% test accuracy on the fixed
20% test split. `:tiny` (a few steps) is what the end-to-end tests run.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("cnn", features=(16, 32), kernel_size=3, padding="SAME", dense_features=64,
                           dropout=0.1),
      data=dict(name="digits", validation_size=160, crop_padding=1),
      optimizer=dict(learning_rate=3e-3, schedule="warmup_cosine", warmup_steps=20, grad_clip_norm=1.0),
      train=dict(batch_size=64, num_epochs=30, log_every_steps=20),
      eval=dict(batch_size=128),
      checkpoint=dict(every_steps=200, keep=2))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  sections.short_run(c, num_steps=16, log_every=4, eval_every=8, checkpoint_every=8)
  c.optimizer.warmup_steps = 2
