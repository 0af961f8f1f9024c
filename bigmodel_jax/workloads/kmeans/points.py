"""K-Means's data: image pixels, a classifier's embeddings, synthetic blobs or a .npy file, as float32 rows.

Every source gives train and test rows (N x D float32) with labels where the data
has them. All train points live on the devices: padded with weight-0 rows to a
multiple of the mesh's `data` axis and split over it by rows.
"""
import dataclasses
import os
from typing import Iterator, Optional

import jax
import numpy as np

from bigmodel_jax.config import checks as v
from bigmodel_jax.data.base import Data
from bigmodel_jax.data.sources import SOURCES
from bigmodel_jax.engine.parallel import DATA_AXIS
from bigmodel_jax.errors import ConfigError, DataError
from bigmodel_jax.workloads.supervised.classifier import load_classifier, penultimate_and_logits


@dataclasses.dataclass(frozen=True)
class PointsSpec:
  """Static facts the jitted k-means functions depend on."""
  num_points: int          # Real train points (rows past it are padding).
  padded_points: int
  num_features: int
  num_clusters: int
  n_init: int
  minibatch: bool
  tol_abs: float           # Centre shift (summed squared) below which a restart has converged.
  image_shape: Optional[tuple] = None


@dataclasses.dataclass
class PointsData(Data):
  """All train points live on the devices (batches are made there); eval reads the splits in order."""
  splits: dict                     # split -> (points N x D float32, labels N int or None)
  spec: PointsSpec
  class_names: Optional[list] = None

  def facts(self) -> dict:
    """The features the centroids live in."""
    return {"num_features": self.spec.num_features,
            "image_shape": list(self.spec.image_shape) if self.spec.image_shape else None}

  def device_arrays(self) -> dict:
    x = self.splits["train"][0]
    pad = self.spec.padded_points - len(x)
    padded = np.concatenate([x, np.zeros((pad, x.shape[1]), np.float32)]) if pad else x
    weights = (np.arange(len(padded)) < len(x)).astype(np.float32)
    return {"points": padded, "weights": weights, "sq_norms": np.sum(padded * padded, axis=1)}

  def eval_batches(self, split: str, batch_size: int) -> Iterator[dict]:
    yield from point_batches(self.splits[split][0], batch_size, self.splits[split][1])


def point_batches(x_NxD: np.ndarray, batch_size: int, labels=None) -> Iterator[dict]:
  """Batches of rows in order; the last padded, with `mask` marking the real rows."""
  for start in range(0, len(x_NxD), batch_size):
    x = x_NxD[start:start + batch_size]
    pad = batch_size - len(x)
    batch = {"points": np.pad(x, ((0, pad), (0, 0))), "mask": np.arange(batch_size) < len(x)}
    if labels is not None:
      batch["labels"] = np.pad(labels[start:start + batch_size], (0, pad))
    yield batch


def as_points(images: np.ndarray) -> np.ndarray:
  """N x ... images or features -> N x D float32 rows; uint8 pixels scaled to [0, 1]."""
  x = images.reshape(len(images), int(np.prod(images.shape[1:])))
  return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def open_npy_rows(path: str, what: str) -> np.ndarray:
  """A .npy file of N points (N x D) or N images (N x H x W [x C]), memory-mapped, not read yet.

  A 0-d or 1-d array is refused: N scalars and one D-dimensional point look the same.
  """
  if not os.path.isfile(path):
    raise DataError(f"{what}={path!r}: no such file (a .npy array of points or images)")
  try:
    x = np.load(path, mmap_mode="r", allow_pickle=False)
  except (ValueError, OSError, EOFError) as e:
    raise DataError(f"{what}={path!r} is not a readable .npy array: {e}") from e
  if x.ndim < 2:
    raise DataError(f"{what}={path!r} has shape {x.shape}; expected N x D points or N images: reshape "
                    f"N values to (N, 1), one point to (1, D)")
  if not (np.issubdtype(x.dtype, np.number) and not np.issubdtype(x.dtype, np.complexfloating)):
    raise DataError(f"{what}={path!r} holds {x.dtype} values; expected real numbers")
  return x


def check_points(x: np.ndarray, what: str) -> None:
  if x.ndim != 2 or len(x) == 0 or x.shape[1] == 0:
    raise DataError(f"{what} is empty or not N x D (shape {x.shape})")
  bad = ~np.isfinite(x)
  if bad.any():
    row = int(np.argwhere(bad)[0][0])
    raise DataError(f"{what} has {int(bad.sum())} NaN or infinite value(s), the first in row {row}")


def image_splits(cfg):
  """A supervised image source (fashion_mnist, digits, ...): pixels of train and test."""
  raw = SOURCES[cfg.name](cfg)
  splits = {s: (as_points(x), y.astype(np.int32)) for s, (x, y) in (("train", raw.train), ("test", raw.test))}
  return splits, tuple(raw.train[0].shape[1:]), raw.class_names


def blobs_splits(cfg):
  """Gaussian blobs (a test set-up): cfg.num_points rows of cfg.num_features around
  cfg.num_blobs centres, labelled by blob; the test split is a quarter as many."""
  rng = np.random.default_rng(cfg.blobs_seed)
  centres = rng.uniform(-10, 10, size=(cfg.num_blobs, cfg.num_features))
  def make(n):
    labels = rng.integers(0, cfg.num_blobs, size=n).astype(np.int32)
    return (centres[labels] + rng.normal(size=(n, cfg.num_features))).astype(np.float32), labels
  return {"train": make(cfg.num_points), "test": make(max(cfg.num_points // 4, 1))}, None, None


def npy_splits(cfg):
  """A .npy file of rows (or images) in cfg.path; no labels, no test split of its own."""
  x = as_points(np.asarray(open_npy_rows(cfg.path, "data.path")))
  return {"train": (x, None), "test": (x, None)}, None, None


def embedding_splits(cfg):
  """The input of a trained classifier's last dense layer for every train and test image
  (`cfg.path` is the classifier's workdir): clustering them is feature extraction."""
  classifier = load_classifier(cfg.path, "data.path")
  variables = classifier.variables()
  embed = jax.jit(lambda v, x: penultimate_and_logits(classifier.model, v, x)[0])
  splits = {}
  for split in ("train", "test"):
    images, labels = classifier.data.splits[split]
    chunks = [np.asarray(embed(variables, images[i:i + cfg.batch_size]))
              for i in range(0, len(images), cfg.batch_size)]
    splits[split] = (np.concatenate(chunks), np.asarray(labels, np.int32))
  return splits, None, classifier.data.class_names


POINT_SOURCES = {"fashion_mnist": image_splits, "digits": image_splits, "synthetic": image_splits,
                 "blobs": blobs_splits, "npy": npy_splits, "embeddings": embedding_splits}

# The `data` section of k-means.
DATA_SECTION = dict(
    # fashion_mnist | digits | synthetic (pixels) | blobs | npy (a file) | embeddings (a classifier's).
    name=("fashion_mnist", v.one_of(*sorted(POINT_SOURCES))),
    data_dir=("", v.STRING),                 # fashion_mnist: the IDX files (default data/fashion_mnist).
    path=("", v.STRING),                     # npy: the array file; embeddings: the classifier's workdir.
    batch_size=(1000, v.POSITIVE_INT),       # embeddings: rows per forward pass of the classifier.
    num_points=(600, v.POSITIVE_INT),        # blobs: train points (the test split has a quarter as many).
    num_features=(2, v.POSITIVE_INT),        # blobs: dimensions.
    num_blobs=(3, v.POSITIVE_INT),           # blobs: Gaussian centres (unit variance, centres in [-10, 10]).
    blobs_seed=(0, v.NON_NEGATIVE_INT),      # blobs: the data's own seed.
)


def load_points(config, mesh) -> PointsData:
  cfg, km = config.data, config.kmeans
  if cfg.name not in POINT_SOURCES:
    raise ConfigError(f"data.name={cfg.name!r}; choose one of {sorted(POINT_SOURCES)}")
  splits, image_shape, class_names = POINT_SOURCES[cfg.name](cfg)
  for split, (x, _) in splits.items():
    check_points(x, f"data {cfg.name!r} {split} split")
  x = splits["train"][0]
  if km.num_clusters > len(x):
    raise ConfigError(f"kmeans.num_clusters={km.num_clusters} exceeds the {len(x)} points to cluster")
  shards = mesh.shape[DATA_AXIS]
  padded = -(-len(x) // shards) * shards
  tol_abs = float(km.tol * np.mean(np.var(x, axis=0, dtype=np.float64)))
  spec = PointsSpec(len(x), padded, x.shape[1], km.num_clusters, km.n_init, km.algorithm == "minibatch",
                    tol_abs, image_shape)
  return PointsData(splits, spec, class_names)


def input_batches(path: str, num_features: int, batch_size: int) -> tuple[int, Iterator[dict]]:
  """(rows, batches) of a --input .npy file read batch by batch from a memory map, so an input
  larger than memory streams; its feature size and values are checked before any batch is made."""
  x = open_npy_rows(path, "--input")
  features = int(np.prod(x.shape[1:]))
  if features != num_features:
    raise DataError(f"--input={path}: {features} features per row, but the centroids have {num_features}")
  if len(x) == 0:
    raise DataError(f"--input={path} is empty (shape {x.shape})")
  for start in range(0, len(x), batch_size):   # One pass to check, before anything is written.
    check_points(as_points(np.asarray(x[start:start + batch_size])), f"--input={path} rows {start}+")

  def batches():
    for start in range(0, len(x), batch_size):
      yield from point_batches(as_points(np.asarray(x[start:start + batch_size])), batch_size)
  return len(x), batches()
