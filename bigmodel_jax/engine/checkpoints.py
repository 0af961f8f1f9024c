"""Orbax checkpoints: async saves, keep-last-K, resume onto the current mesh, params from another run."""
import os
from typing import Any, Optional

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils

from bigmodel_jax.errors import CheckpointError

CHECKPOINT_SUBDIR = "checkpoints"
# Where a resumed run moves checkpoints it could not read (never deleted, never overwritten).
UNREADABLE_SUBDIR = "checkpoints_unreadable"


def abstract_like(tree, shardings):
  """ShapeDtypeStructs carrying the target shardings, so restored arrays land where they belong."""
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=s), tree, shardings)


class UnreadableCheckpoint(CheckpointError):
  """A checkpoint's files are corrupt or incomplete (not: it belongs to another model)."""


class Checkpointer:
  """One run's checkpoints: item `state` (the train state and its RNG) and item `meta` (JSON)."""

  def __init__(self, workdir: str, keep: int, async_save: bool = True, read_only: bool = False):
    self.directory = os.path.abspath(os.path.join(workdir, CHECKPOINT_SUBDIR))
    if read_only and not os.path.isdir(self.directory):
      raise CheckpointError(f"{workdir} has no checkpoints (expected {self.directory})")
    self.read_only = read_only
    self._options = ocp.CheckpointManagerOptions(
        max_to_keep=keep, enable_async_checkpointing=async_save, read_only=read_only, create=not read_only)
    self._open()

  def _open(self) -> None:
    handlers = {"state": ocp.StandardCheckpointHandler(), "meta": ocp.JsonCheckpointHandler()}
    self._manager = ocp.CheckpointManager(self.directory, options=self._options, item_handlers=handlers)

  def latest_step(self) -> Optional[int]:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    return sorted(self._manager.all_steps())

  def set_aside(self, step: int) -> str:
    """Moves an unreadable checkpoint out of the way, files untouched, so training can write
    that step again without overwriting or deleting it. Returns where it went."""
    self._manager.wait_until_finished()
    target = os.path.join(os.path.dirname(self.directory), UNREADABLE_SUBDIR, str(step))
    if os.path.exists(target):
      target = f"{target}.{len(os.listdir(os.path.dirname(target)))}"
    if jax.process_index() == 0:   # One process moves it; the others wait for that.
      os.makedirs(os.path.dirname(target), exist_ok=True)
      os.rename(os.path.join(self.directory, str(step)), target)
    if jax.process_count() > 1:
      multihost_utils.sync_global_devices(f"set aside checkpoint {step}")
    self._manager.close()
    self._open()
    return target

  def save(self, step: int, state: Any, meta: dict) -> None:
    """Starts an (async) save; the previous one is finished first, so at most one is in flight."""
    self._manager.save(step, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)), force=True)

  def restore(self, step: int, abstract_state: Any, expected_meta: dict, ignore: tuple = ()) -> Any:
    """Restores `step` onto the shardings of `abstract_state`.

    CheckpointError if it was written for another run (a value of its meta differs, except
    under the top-level keys in `ignore`, or its arrays' shapes do not fit);
    UnreadableCheckpoint if its files cannot be read.
    """
    mismatch = first_meta_difference(self.restore_meta(step), expected_meta, ignore)
    if mismatch:
      key, saved, wanted = mismatch
      key = key.removeprefix("training.")   # Optimizer and EMA keys, named as in the config.
      raise CheckpointError(f"checkpoint {self.directory}/{step} was written with {key}={_short(saved)}, "
                            f"this run has {key}={_short(wanted)}; use a fresh --workdir or the same settings")
    _check_shapes(self._saved_shapes(step), abstract_state, f"{self.directory}/{step}")
    try:
      restored = self._manager.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(abstract_state)))
    except Exception as e:  # tensorstore / Orbax raise many kinds for damaged files.
      raise UnreadableCheckpoint(f"checkpoint step {step} ({self.directory}/{step}) is corrupt or "
                                 f"incomplete: {_first_line(e)}") from e
    return restored.state

  def _saved_shapes(self, step: int) -> dict:
    try:
      metadata = self._manager.item_metadata(step).state
      return {path_name(p): tuple(m.shape)
              for p, m in jax.tree_util.tree_flatten_with_path(metadata)[0] if hasattr(m, "shape")}
    except Exception as e:
      raise UnreadableCheckpoint(f"checkpoint step {step} ({self.directory}/{step}) is corrupt or "
                                 f"incomplete: {_first_line(e)}") from e

  def restore_meta(self, step: int) -> dict:
    try:
      return self._manager.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore())).meta
    except Exception as e:
      raise UnreadableCheckpoint(f"checkpoint step {step} ({self.directory}/{step}) is corrupt or "
                                 f"incomplete: {_first_line(e)}") from e

  def restore_raw(self, step: int) -> Any:
    """The saved state as host arrays, in whatever structure it was saved (for partial loads)."""
    # Onto this process's first device, whatever the topology it was saved from.
    device = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    metadata = self._manager.item_metadata(step).state
    target = jax.tree.map(lambda m: jax.ShapeDtypeStruct(m.shape, m.dtype, sharding=device), metadata)
    return self._manager.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target))).state

  def wait(self) -> None:
    self._manager.wait_until_finished()

  def close(self) -> None:
    self._manager.wait_until_finished()
    self._manager.close()


def _flat(tree: dict, prefix: str = "") -> dict:
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict) and value:
      out.update(_flat(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = value
  return out


def first_meta_difference(saved: dict, wanted: dict, ignore: tuple = ()):
  """(dotted key, saved value, wanted value) of the first difference, or None. A key the saved meta
  lacks (a checkpoint of an older version) is not compared."""
  saved_flat = _flat({k: v for k, v in saved.items() if k not in ignore})
  for key, value in _flat({k: v for k, v in wanted.items() if k not in ignore}).items():
    if key in saved_flat and saved_flat[key] != value:
      return key, saved_flat[key], value
  return None


def _short(value, limit: int = 80) -> str:
  text = repr(value)
  return text if len(text) <= limit else text[:limit - 3] + "..."


def path_name(path) -> str:
  """'train_state/params/Dense_0/kernel' for attribute, dict and sequence keys alike
  (a saved dataclass comes back as a dict)."""
  parts = []
  for key in path:
    for attr in ("key", "name", "idx"):
      if hasattr(key, attr):
        parts.append(str(getattr(key, attr)))
        break
  return "/".join(parts)


def _first_line(e: Exception) -> str:
  text = str(e).strip().splitlines()
  line = (text[0] if text else "").split(" See full TensorStore details")[0]
  return f"{type(e).__name__}: {line}"[:300]


def _check_shapes(saved: dict, abstract_state, where: str) -> None:
  """CheckpointError when the saved arrays do not match the ones this run expects."""
  wanted = {path_name(p): tuple(x.shape) for p, x in jax.tree_util.tree_flatten_with_path(abstract_state)[0]}
  missing = sorted(set(wanted) - set(saved))
  if missing:
    raise CheckpointError(f"checkpoint {where} does not fit this run: it has no {missing[0]}")
  for name, shape in wanted.items():
    if saved[name] != shape:
      raise CheckpointError(f"checkpoint {where} does not fit this run: {name} has shape {saved[name]}, "
                            f"this run expects {shape}")


def _under(name: str, prefixes: tuple) -> bool:
  return any(name == p or name.startswith(p + "/") for p in prefixes)


def load_matching_arrays(run_dir: str, state, shardings, prefixes: tuple) -> tuple[Any, list[str]]:
  """`state` with its arrays under the path `prefixes` (e.g. "params") taken from another run's
  latest checkpoint wherever the path and shape match; the others keep their values.

  For fine-tuning, transfer and warm starts: a new classifier head of another size is left
  as initialised. Works on any state pytree (dataclass or dict). Returns (state, names of the
  arrays under the prefixes that were not loaded).
  """
  source = Checkpointer(run_dir, keep=1, read_only=True)
  try:
    step = source.latest_step()
    if step is None:
      raise CheckpointError(f"init_from={run_dir} has no checkpoint to start from")
    saved_state = source.restore_raw(step)["train_state"]
  finally:
    source.close()
  saved = {path_name(p): leaf for p, leaf in jax.tree_util.tree_flatten_with_path(saved_state)[0]}
  loaded, skipped = [], []

  def take(path, leaf, sharding):
    name = path_name(path)
    if not _under(name, prefixes):
      return leaf
    candidate = saved.get(name)
    if candidate is None or np.shape(candidate) != leaf.shape:
      skipped.append(name)
      return leaf
    loaded.append(name)
    return jax.device_put(np.asarray(candidate, dtype=leaf.dtype), sharding)

  state = jax.tree_util.tree_map_with_path(take, state, shardings)
  if not loaded:
    raise CheckpointError(f"init_from={run_dir}: no array under {list(prefixes)} matches this state "
                          f"by path and shape")
  return state, skipped
