"""Orbax checkpoints: async saves, keep-last-K, resume onto the current mesh, params from another run."""
import os
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp

from bigmodel_jax.errors import CheckpointError

CHECKPOINT_SUBDIR = "checkpoints"


def abstract_like(tree, shardings):
  """ShapeDtypeStructs carrying the target shardings, so restored arrays land where they belong."""
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings)


class Checkpointer:
  """One run's checkpoints: item `state` (the train state and its RNG) and item `meta` (JSON)."""

  def __init__(self, workdir: str, keep: int, async_save: bool = True, read_only: bool = False):
    self.directory = os.path.abspath(os.path.join(workdir, CHECKPOINT_SUBDIR))
    if read_only and not os.path.isdir(self.directory):
      raise CheckpointError(f"{workdir} has no checkpoints (expected {self.directory})")
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=async_save, read_only=read_only, create=not read_only)
    self._manager = ocp.CheckpointManager(self.directory, options=options, item_names=("state", "meta"))

  def latest_step(self) -> Optional[int]:
    return self._manager.latest_step()

  def save(self, step: int, state: Any, meta: dict) -> None:
    """Starts an (async) save; the previous one is finished first, so at most one is in flight."""
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=True)

  def restore(self, step: int, abstract_state: Any, expected_meta: dict) -> Any:
    """Restores `step` onto the shardings of `abstract_state`; CheckpointError if it does not fit."""
    meta = self.restore_meta(step)
    for key, want in expected_meta.items():
      if meta.get(key) != want:
        raise CheckpointError(
            f"checkpoint {self.directory}/{step} was written with {key}={meta.get(key)}, "
            f"this run has {key}={want}; use a fresh --workdir")
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state)))
    except (ValueError, KeyError, TypeError) as e:
      raise CheckpointError(f"checkpoint {self.directory}/{step} does not fit this model: "
                            f"{str(e).splitlines()[0]}") from e
    return restored.state

  def restore_meta(self, step: int) -> dict:
    return self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta

  def restore_raw(self, step: int) -> Any:
    """The saved state as host arrays, in whatever structure it was saved (for partial loads)."""
    return self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore())).state

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def _flatten_with_paths(tree) -> dict:
  return {jax.tree_util.keystr(path): leaf for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]}


def load_matching_params(run_dir: str, params: Any, shardings: Any) -> tuple[Any, list[str]]:
  """Takes parameters from another run's latest checkpoint wherever path and shape match.

  For fine-tuning and transfer: a new classifier head of another size is left as
  initialised. Returns (params, names of the parameters that were not loaded).
  """
  source = Checkpointer(run_dir, keep=1, read_only=True)
  step = source.latest_step()
  if step is None:
    raise CheckpointError(f"init_from={run_dir} has no checkpoint to start from")
  saved = _flatten_with_paths(source.restore_raw(step)["train_state"]["params"])
  source.close()
  skipped = []

  def take(path, current, sharding):
    name = jax.tree_util.keystr(path)
    # Saved trees come back as nested dicts; current ones may be FrozenDicts with the same keys.
    candidate = saved.get(name)
    if candidate is None or np.shape(candidate) != current.shape:
      skipped.append(name)
      return current
    return jax.device_put(np.asarray(candidate, dtype=current.dtype), sharding)

  loaded = jax.tree_util.tree_map_with_path(take, params, shardings)
  if len(skipped) == len(jax.tree.leaves(params)):
    raise CheckpointError(f"init_from={run_dir}: no parameter matches this model by name and shape")
  return loaded, skipped
