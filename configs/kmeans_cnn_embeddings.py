r"""K-Means (k = 10) on the features a trained Fashion-MNIST classifier computes (its last hidden layer).

Train the classifier first (~1.5 minutes on 2 CPU cores), then cluster its features:

  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fashion_mnist_fast
  python -m launch.main --config=configs/kmeans_cnn_embeddings.py --workdir=runs/kmeans_cnn_embeddings

`data.path` names the classifier's workdir; its own config (summary.json) rebuilds the
model and the data pipeline, so the 55000 train images (its validation hold-out excluded)
are embedded exactly as the classifier saw them. Hardware: 2-core CPU (shared, load
~12). Time: 72 s wall, mostly embedding 65000 images; 13 iterations in 0.3 s
(2026-11-23). Expected, with a 91.3% classifier: NMI 0.820, ARI 0.742, purity 0.854
(the pixels give NMI 0.52). `:tiny` reads `runs/cnn_digits_tiny`
(python -m launch.main --config=configs/cnn_digits.py:tiny --workdir=runs/cnn_digits_tiny).
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
  c.data.name = "embeddings"         # fashion_mnist | digits | synthetic | blobs | npy | embeddings.
  c.data.data_dir = ""               # fashion_mnist: IDX files (default data/fashion_mnist).
  c.data.tfds_name = ""              # Unused (the supervised sources' key).
  c.data.path = "runs/cnn_fashion_mnist_fast"  # npy: the array file; embeddings: the classifier's workdir.
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
    c.data.path = "runs/cnn_digits_tiny"
    c.train.update(num_steps=20, steps_per_dispatch=5)
    c.eval.batch_size = 512
    c.checkpoint.every_steps = 5
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
