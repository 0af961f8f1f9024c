r"""K-Means (k = 10, greedy k-means++, Lloyd) on the 60000 Fashion-MNIST train images' pixels.

  python -m launch.main --config=configs/kmeans_fashion_mnist.py --workdir=runs/kmeans_fashion_mnist

Hardware: 2-core CPU (shared, load ~12). Time: 2.1 s of Lloyd iterations + 2.1 s
compilation, 23 s wall with loading and the report (2026-11-23). Expected: inertia
1926955, 18 iterations, NMI 0.521 / ARI 0.369 / purity 0.579 against the labels
(seed 0; seeds 1, 2: 1920108 and 1919742). `--mode=predict` / `transform` read the
test split (or `--input=x.npy`).
Pixels are scaled to [0, 1] (784 features). Each train step is one Lloyd iteration;
the run stops when the centroids move less than `kmeans.tol` (relative to the data's
variance, as scikit-learn defines it). `:tiny` clusters 600 synthetic blobs.
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
  # Converged when the summed squared centre shift <= tol x mean feature variance (scikit-learn's
  # definition; its default is 1e-4). On these pixels the iterations 5e-2 leaves out change the
  # inertia by < 0.01% (WORKSPACE.md, K-Means).
  c.kmeans.tol = 5e-2

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"      # fashion_mnist | digits | synthetic | blobs | npy | embeddings.
  c.data.data_dir = ""               # fashion_mnist: IDX files (default data/fashion_mnist).
  c.data.tfds_name = ""              # Unused (the supervised sources' key).
  c.data.path = ""                   # npy: the array file; embeddings: the classifier's workdir.
  c.data.batch_size = 1000           # embeddings: rows per forward pass of the classifier.
  c.data.num_points = 600            # blobs: train points (the test split has a quarter as many).
  c.data.num_features = 2            # blobs: dimensions.
  c.data.num_blobs = 3               # blobs: Gaussian centres (unit variance, centres in [-10, 10]).
  c.data.blobs_seed = 0              # blobs: the data's own seed.

  # One step = one iteration; train.num_steps is the most iterations (sklearn's max_iter).
  c.train = sections.train(batch_size=1024, num_steps=300, steps_per_dispatch=300, log_every_steps=1,
                           progress_bar=False)
  c.eval = sections.evaluation(batch_size=10000)
  c.checkpoint = sections.checkpoint(every_steps=300, keep=1)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.data.name = "blobs"
    c.kmeans.num_clusters = 3
    c.train.update(batch_size=64, num_steps=20, steps_per_dispatch=5)
    c.eval.batch_size = 200
    c.checkpoint.every_steps = 5
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
