"""Quality scores of generated images in the feature space of one of the project's own classifiers.

* Fréchet distance between Gaussians fitted to the classifier's penultimate features
  (the input of its last dense layer) of real and of generated images.
* Class-distribution score (an Inception-Score analogue): exp(E_x KL(p(y|x) || p(y)))
  from the classifier's class probabilities; high when each image is confidently one
  class and the classes are balanced (at most the number of classes).
* Improved precision and recall (k-nearest-neighbour manifolds, k = 3): the share of
  generated images inside the real images' manifold (quality), and of real images inside
  the generated ones' (coverage).
* Class frequencies: the share of images the classifier assigns to each class, so a
  missing class is a number, not an impression.

The classifier is a finished supervised run (`supervised/classifier.py`), e.g. one
trained with `configs/cnn_fashion_mnist_fast.py`.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads.supervised.classifier import load_classifier, penultimate_and_logits


def frechet_distance(features_a, features_b) -> float:
  """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)), in float64.

  Tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of the
  symmetric PSD matrix S_a^(1/2) S_b S_a^(1/2), which avoids a general matrix root.
  """
  a, b = np.asarray(features_a, np.float64), np.asarray(features_b, np.float64)
  mu_a, mu_b = a.mean(0), b.mean(0)
  cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
  eigval, eigvec = np.linalg.eigh(cov_a)
  root_a = (eigvec * np.sqrt(np.clip(eigval, 0, None))) @ eigvec.T
  middle = root_a @ cov_b @ root_a
  trace_root = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
  return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def class_distribution_score(probs_NxK) -> float:
  """exp(mean_x KL(p(y|x) || p(y))) with p(y) the mean of p(y|x) over the set."""
  p = np.clip(np.asarray(probs_NxK, np.float64), 1e-12, 1.0)
  marginal = p.mean(0, keepdims=True)
  return float(np.exp(np.mean(np.sum(p * (np.log(p) - np.log(marginal)), axis=1))))


def _pairwise_distances(a, b, chunk: int = 1000):
  """Euclidean distances, rows of `a` by rows of `b`, in float64 chunks (5000 x 5000 fits easily)."""
  b_sq = np.sum(b * b, axis=1)
  rows = []
  for start in range(0, len(a), chunk):
    x = a[start:start + chunk]
    sq = np.sum(x * x, axis=1)[:, None] + b_sq[None, :] - 2.0 * x @ b.T
    rows.append(np.sqrt(np.clip(sq, 0.0, None)))
  return np.concatenate(rows)


def knn_radii(points, k: int):
  """Distance from each point to its k-th nearest other point of the same set (k capped at n - 1)."""
  d = _pairwise_distances(points, points)
  k = min(k, len(points) - 1)
  return np.partition(d, k, axis=1)[:, k]   # The smallest distance, 0, is the point itself.


def manifold_coverage(points, reference, k: int) -> float:
  """Share of `points` inside at least one ball around a `reference` point whose radius is that
  point's distance to its k-th nearest reference neighbour."""
  reference = np.asarray(reference, np.float64)
  radii = knn_radii(reference, k)
  d = _pairwise_distances(np.asarray(points, np.float64), reference)
  return float(np.mean(np.any(d <= radii[None, :], axis=1)))


def precision_recall(real_features, fake_features, k: int = 3) -> dict:
  """Improved precision (generated inside the real manifold) and recall (real inside the generated
  manifold) with k-nearest-neighbour balls."""
  return {"precision": manifold_coverage(fake_features, real_features, k),
          "recall": manifold_coverage(real_features, fake_features, k)}


def class_frequencies(probs_NxK) -> np.ndarray:
  """Share of the images whose most probable class is each class (sums to 1)."""
  probs = np.asarray(probs_NxK)
  return np.bincount(np.argmax(probs, axis=1), minlength=probs.shape[1]) / len(probs)


class FeatureClassifier:
  """A trained classifier run as a scorer: `features_and_probs(images in [0, 1])`."""

  def __init__(self, model, variables, mean, std, batch_size: int = 500):
    self.mean, self.std, self.batch_size = np.asarray(mean), np.asarray(std), batch_size
    self._variables = variables

    @jax.jit
    def run(variables, x01):
      features, logits = penultimate_and_logits(model, variables, (x01 - self.mean) / self.std)
      return features, jax.nn.softmax(logits)
    self._run = run

  def features_and_probs(self, images01) -> tuple[np.ndarray, np.ndarray]:
    feats, probs, n, size = [], [], len(images01), self.batch_size
    padded = np.concatenate([images01, np.zeros((-n % size,) + images01.shape[1:], images01.dtype)])
    for start in range(0, len(padded), size):   # Batches of one shape: one compile.
      f, p = self._run(self._variables, jnp.asarray(padded[start:start + size], jnp.float32))
      feats.append(np.asarray(f))
      probs.append(np.asarray(p))
    return np.concatenate(feats)[:n], np.concatenate(probs)[:n]


def load_scorer(workdir: str, image_shape) -> FeatureClassifier:
  """The finished image classifier in `workdir` as a scorer; one ConfigError (with the command that
  trains one) if it is missing or takes other images."""
  classifier = load_classifier(workdir, "generative.classifier_workdir")
  trained_on = tuple(classifier.data.spec.input_shape)
  if trained_on != tuple(image_shape):
    raise ConfigError(f"the classifier in {workdir} takes images of shape {trained_on}, "
                      f"this run makes {tuple(image_shape)}; use a classifier of the same dataset")
  # Host arrays: placed by the jitted scorer on whatever mesh is current.
  return FeatureClassifier(classifier.model, classifier.variables(), classifier.data.mean, classifier.data.std)


@functools.lru_cache(maxsize=4)
def cached_scorer(workdir: str, image_shape: tuple) -> FeatureClassifier:
  return load_scorer(workdir, image_shape)
