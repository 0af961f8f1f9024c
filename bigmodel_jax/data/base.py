"""What a workload's `make_data(config, mesh)` returns: the data half of the workload contract."""
from typing import Hashable, Iterator, Optional


class Data:
  """Base of what `make_data(config, mesh)` returns; a workload's data class subclasses it.

  `spec` holds small, frozen, hashable static facts (shapes, counts) that are bound into
  the jitted functions, never arrays. Batches of training come either from the host
  (`host_batches = True`: `train_batch(step, rows)`, a pure function of (seed, step)) or
  are made on device by the workload's `gather_batch` from `device_arrays()` (or are {},
  e.g. RL).
  """
  spec: Hashable
  host_batches: bool = False

  def train_batch(self, step: int, rows: Optional[slice] = None) -> dict:
    """The global host batch of `step` (dict of NumPy arrays), or only its `rows` (this process's)."""
    raise NotImplementedError(f"{type(self).__name__} makes its batches on device")

  def device_arrays(self) -> dict:
    """Host arrays placed on the devices once (laid out by `Workload.data_layout`), handed to
    `init_state` and `gather_batch`: e.g. uint8 images, all k-means points, a token stream."""
    return {}

  def eval_batches(self, split: str, batch_size: int) -> Iterator[dict]:
    """Dicts of host arrays for one evaluation pass; an optional boolean `mask` marks real rows."""
    raise NotImplementedError(f"{type(self).__name__} has no split {split!r}")

  def facts(self) -> dict:
    """JSON-able facts that give a trained state its meaning (vocabulary, input shape, statistics):
    a checkpoint restores only onto data with the same facts."""
    return {}

  def steps_per_epoch(self) -> int:
    """Train steps in one pass over the data; 0 where there are no epochs (evaluation with
    `train.eval_every_steps=-1` then happens at the end only)."""
    return 0
