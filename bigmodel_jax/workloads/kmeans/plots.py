"""K-Means pictures: the centroids drawn as images, and the cluster-vs-label count matrix."""
import math

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np

from bigmodel_jax.engine import plots  # noqa: F401  (selects the file-only matplotlib backend)


def plot_centroid_images(centroids_KxD: np.ndarray, image_shape: tuple, path: str) -> None:
  """Each centroid reshaped to the input image, in a grid titled by cluster number."""
  k = len(centroids_KxD)
  cols = min(k, 10)
  rows = math.ceil(k / cols)
  fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.8 * rows), squeeze=False)
  for i, ax in enumerate(axes.flat):
    ax.axis("off")
    if i < k:
      image = centroids_KxD[i].reshape(image_shape)
      ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
      ax.set_title(f"cluster {i}", fontsize=8)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_cluster_label_matrix(table_KxC: np.ndarray, label_names, path: str) -> None:
  """Counts of each (cluster, true label) pair."""
  k, c = table_KxC.shape
  names = label_names if label_names and len(label_names) == c else [str(j) for j in range(c)]
  fig, ax = plt.subplots(figsize=(0.6 * c + 3, 0.45 * k + 2))
  ax.imshow(table_KxC, cmap="Blues", aspect="auto")
  ax.set_xticks(np.arange(c), names, rotation=60, ha="right")
  ax.set_yticks(np.arange(k), [str(i) for i in range(k)])
  ax.set_xlabel("true label")
  ax.set_ylabel("cluster")
  if k * c <= 400:
    for (i, j), count in np.ndenumerate(table_KxC):
      ax.text(j, i, str(count), ha="center", va="center", fontsize=6,
              color="white" if count > table_KxC.max() / 2 else "black")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
