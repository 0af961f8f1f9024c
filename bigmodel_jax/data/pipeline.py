"""In-memory supervised datasets: validation hold-out, normalisation, deterministic batches.

A batch is a function of (seed, step) alone, so a resumed run sees exactly the
batches it would have seen without stopping: the data position is the step.
"""
import dataclasses
from typing import Iterator, Optional

import numpy as np

from bigmodel_jax.config import checks as v
from bigmodel_jax.data.base import Data
from bigmodel_jax.data.sources import SOURCES, RawSplits
from bigmodel_jax.errors import ConfigError

# The `data` section of the workloads that read image (or regression) datasets.
DATA_SECTION = dict(
    name=("fashion_mnist", v.one_of(*sorted(SOURCES))),   # Key of bigmodel_jax.data.sources.SOURCES.
    data_dir=("", v.STRING),                 # "" = the source's default (data/fashion_mnist: launch.fetch_data).
    tfds_name=("", v.STRING),                # Dataset name when name == "tfds" (e.g. "mnist", "cifar10").
    image_size=(0, v.NON_NEGATIVE_INT),      # name == "folder": images resized to image_size x image_size.
    image_channels=(1, v.one_of(1, 3)),      # name == "folder": 1 (grey) or 3 (RGB).
    validation_size=(5000, v.NON_NEGATIVE_INT),  # Held out from train; the test split is used only at the end.
    normalize=(True, v.BOOL),                # Per-channel mean / std of the train split.
    crop_padding=(0, v.NON_NEGATIVE_INT),    # Random crop after zero padding (0 = off).
    horizontal_flip=(False, v.BOOL),         # Random left-right flips.
    on_device=(False, v.BOOL),               # Keep the train images (uint8) on the devices; gather batches there.
)


@dataclasses.dataclass(frozen=True)
class SupervisedSpec:
  """Static facts about a supervised dataset that jitted functions may depend on."""
  input_shape: tuple
  num_outputs: int
  steps_per_epoch: int
  is_classification: bool


@dataclasses.dataclass
class SupervisedData(Data):
  """Normalised float32 inputs and targets for the train, validation and test splits."""
  splits: dict                      # split name -> (inputs, targets)
  class_names: Optional[list[str]]  # None for regression.
  mean: np.ndarray                  # Per-channel statistics used to normalise (for display).
  std: np.ndarray
  batch_size: int
  seed: int
  # With data.on_device: the train split as stored (uint8 images), placed on the devices
  # once; batches are then gathered and normalised there (no host batches).
  stored_train: Optional[tuple] = None

  @property
  def host_batches(self) -> bool:
    """Host batches, unless the train images live on the devices (batches gathered there)."""
    return self.stored_train is None

  def facts(self) -> dict:
    """Input shape, classes and the normalisation the trained weights expect."""
    return {"input_shape": list(self.input_shape), "num_outputs": self.num_outputs,
            "classes": self.class_names, "mean": np.asarray(self.mean).tolist(), "std": np.asarray(self.std).tolist()}

  def device_arrays(self) -> dict:
    if self.stored_train is None:
      return {}
    images, targets = self.stored_train
    return {"images": images, "targets": targets, "mean": self.mean, "std": self.std}

  @property
  def num_outputs(self) -> int:
    return len(self.class_names) if self.class_names else self.splits["train"][1].shape[-1]

  @property
  def input_shape(self) -> tuple:
    return self.splits["train"][0].shape[1:]

  def steps_per_epoch(self) -> int:
    return len(self.splits["train"][0]) // self.batch_size

  @property
  def spec(self) -> SupervisedSpec:
    return SupervisedSpec(tuple(self.input_shape), self.num_outputs, self.steps_per_epoch(),
                          self.class_names is not None)

  def _epoch_order(self, epoch: int) -> np.ndarray:
    if getattr(self, "_cached_epoch", None) != epoch:
      n = len(self.splits["train"][0])
      self._cached_order = np.random.default_rng([self.seed, epoch]).permutation(n)
      self._cached_epoch = epoch
    return self._cached_order

  def train_batch(self, step: int, rows: Optional[slice] = None) -> dict:
    """The global batch for `step`, or its `rows` (one process's part); epochs reshuffle and
    the remainder of an epoch is dropped."""
    epoch, index = divmod(step, self.steps_per_epoch())
    rows = self._epoch_order(epoch)[index * self.batch_size:(index + 1) * self.batch_size][rows or slice(None)]
    inputs, targets = self.splits["train"]
    return {"inputs": inputs[rows], "targets": targets[rows]}

  def eval_batches(self, split: str, batch_size: int) -> Iterator[dict]:
    """Batches of a whole split, in order; the last one padded, with `mask` marking real rows."""
    inputs, targets = self.splits[split]
    for start in range(0, len(inputs), batch_size):
      x, y = inputs[start:start + batch_size], targets[start:start + batch_size]
      pad = batch_size - len(x)
      yield {"inputs": _pad_rows(x, pad), "targets": _pad_rows(y, pad),
             "mask": np.arange(batch_size) < len(x)}

  def display_images(self, split: str) -> np.ndarray:
    """Inputs of a split mapped back to [0, 1] for plotting."""
    return np.clip(self.splits[split][0] * self.std + self.mean, 0.0, 1.0)


def _pad_rows(a: np.ndarray, pad: int) -> np.ndarray:
  return np.concatenate([a, np.zeros((pad,) + a.shape[1:], a.dtype)]) if pad else a


def _hold_out_validation(raw: RawSplits, size: int, seed: int):
  if raw.validation is not None:
    return raw.train, raw.validation
  x, y = raw.train
  if not 0 < size < len(x):
    raise ConfigError(f"data.validation_size={size} must be between 1 and {len(x) - 1}")
  order = np.random.default_rng([seed, 2**31 - 1]).permutation(len(x))
  val, train = order[:size], order[size:]
  return (x[train], y[train]), (x[val], y[val])


def _to_unit_float(x: np.ndarray) -> np.ndarray:
  return x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)


def load_supervised_data(data_cfg, batch_size: int, seed: int) -> SupervisedData:
  """Loads `SOURCES[data_cfg.name]`, holds out validation and normalises with train statistics.

  With `data_cfg.on_device`, the train split is also kept as stored (uint8) for the devices.
  """
  if data_cfg.name not in SOURCES:
    raise ConfigError(f"data.name={data_cfg.name!r}; choose one of {sorted(SOURCES)}")
  raw = SOURCES[data_cfg.name](data_cfg)
  train, val = _hold_out_validation(raw, data_cfg.validation_size, seed)
  splits = {"train": train, "validation": val, "test": raw.test}
  stored_train = train if data_cfg.get("on_device", False) else None
  splits = {k: (_to_unit_float(x), y) for k, (x, y) in splits.items()}
  channels = splits["train"][0].shape[-1]
  mean, std = np.zeros(channels, np.float32), np.ones(channels, np.float32)
  if data_cfg.normalize:
    axes = tuple(range(splits["train"][0].ndim - 1))
    mean, std = splits["train"][0].mean(axis=axes), splits["train"][0].std(axis=axes) + 1e-6
  splits = {k: ((x - mean) / std, y) for k, (x, y) in splits.items()}
  if batch_size > len(splits["train"][0]):
    raise ConfigError(f"train.batch_size={batch_size} exceeds the {len(splits['train'][0])} training examples")
  return SupervisedData(splits, raw.class_names, mean, std, batch_size, seed, stored_train)
