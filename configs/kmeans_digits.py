r"""K-Means (k = 10, greedy k-means++, Lloyd) on scikit-learn's bundled 8x8 digits (1438 train images).

  python -m launch.main --config=configs/kmeans_digits.py --workdir=runs/kmeans_digits

Hardware: 2-core CPU (shared, load ~12). Time: 9 s wall, 0.13 s of it Lloyd
iterations (2026-11-23). Expected: inertia 3958.6 after 10 iterations, NMI 0.687,
ARI 0.587, purity 0.736.
Pixels scaled to [0, 1] (64 features); the fixed 20% test split is what
`--mode=predict` and `--mode=transform` read by default. `:tiny` caps the run at
30 iterations, two per dispatch, for the tests.
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "kmeans"              # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # k-means++ draws (and mini-batch draws).

  c.kmeans = ml_collections.ConfigDict()
  c.kmeans.num_clusters = 10         # k.
  c.kmeans.n_init = 1                # Restarts fitted side by side; the lowest inertia is kept.
  c.kmeans.algorithm = "lloyd"       # lloyd (all points each step) | minibatch (train.batch_size points).
  c.kmeans.init = "k-means++"        # k-means++ (greedy) | random (distinct points).
  c.kmeans.num_candidates = 0        # k-means++ candidates per centre; 0 = 2 + ln(k).
  c.kmeans.block_rows = 2048         # Rows per block of a device's pass (0 = all at once); see kmeans.py.
  c.kmeans.tol = 1e-4                # Converged when the summed squared centre shift <= tol x mean feature variance.

  c.data = ml_collections.ConfigDict()
  c.data.name = "digits"             # fashion_mnist | digits | synthetic | blobs | npy | embeddings.
  c.data.data_dir = ""               # fashion_mnist: IDX files (default data/fashion_mnist).
  c.data.tfds_name = ""              # Unused (the supervised sources' key).
  c.data.path = ""                   # npy: the array file; embeddings: the classifier's workdir.
  c.data.batch_size = 1000           # embeddings: rows per forward pass of the classifier.
  c.data.num_points = 600            # blobs: train points (the test split has a quarter as many).
  c.data.num_features = 2            # blobs: dimensions.
  c.data.num_blobs = 3               # blobs: Gaussian centres (unit variance, centres in [-10, 10]).
  c.data.blobs_seed = 0              # blobs: the data's own seed.

  # One step = one iteration; train.num_steps is the most iterations (sklearn's max_iter).
  c.train = sections.train(batch_size=256, num_steps=300, steps_per_dispatch=300, log_every_steps=1,
                           progress_bar=False)
  c.eval = sections.evaluation(batch_size=512)
  c.checkpoint = sections.checkpoint(every_steps=300, keep=1)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.train.update(num_steps=30, steps_per_dispatch=2, eval_every_steps=4)
    c.checkpoint.every_steps = 4
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
