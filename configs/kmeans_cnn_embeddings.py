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
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "kmeans",
      data=dict(name="embeddings", path="runs/cnn_fashion_mnist_fast"),
      kmeans=dict(tol=1e-4),
      train=dict(batch_size=1024))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  """Clusters the embeddings of `configs/cnn_digits.py:tiny` trained into runs/cnn_digits_tiny."""
  c.data.path = "runs/cnn_digits_tiny"
  sections.short_run(c, num_steps=20, steps_per_dispatch=5, checkpoint_every=5)
  c.eval.batch_size = 512
