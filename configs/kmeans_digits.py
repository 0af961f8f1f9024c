r"""K-Means (k = 10, greedy k-means++, Lloyd) on scikit-learn's bundled 8x8 digits (1438 train images).

  python -m launch.main --config=configs/kmeans_digits.py --workdir=runs/kmeans_digits

Hardware: 2-core CPU (shared, load ~12). Time: 9 s wall, 0.13 s of it Lloyd
iterations (2026-11-23). Expected: inertia 3958.6 after 10 iterations, NMI 0.687,
ARI 0.587, purity 0.736.
Pixels scaled to [0, 1] (64 features); the fixed 20% test split is what
`--mode=predict` and `--mode=transform` read by default. `:tiny` caps the run at
30 iterations, two per dispatch, for the tests.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "kmeans",
      data=dict(name="digits"),
      kmeans=dict(tol=1e-4),
      train=dict(batch_size=256),
      eval=dict(batch_size=512))
  return sections.with_variant(c, arg, tiny=lambda c: sections.short_run(
      c, num_steps=30, steps_per_dispatch=2, eval_every=4, checkpoint_every=4))
