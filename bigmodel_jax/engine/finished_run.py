"""A finished run read back for use elsewhere: its config, summary and latest state as host arrays.

Every consumer of another run goes through here: k-means on a classifier's
embeddings, the generative scores' classifier, and tools that predict with, export
or serve a trained model. The run's config comes from its summary.json, its
parameters (and, for a language model, its vocabulary) from its latest checkpoint.
"""
import dataclasses
import json
import os
from typing import Optional

import ml_collections

from bigmodel_jax.engine.checkpoints import Checkpointer
from bigmodel_jax.errors import ConfigError

SUMMARY_FILE = "summary.json"


@dataclasses.dataclass
class FinishedRun:
  workdir: str
  config: ml_collections.ConfigDict
  summary: dict
  step: int
  state: dict        # The saved train state as nested dicts of host arrays.

  def inference_variables(self) -> dict:
    """Flax variables to apply the model with: the EMA weights when the run kept them, and the
    non-trainable collections (batch statistics)."""
    params = self.state.get("ema_params")
    if params is None:
      params = self.state["params"]
    return {"params": params, **(self.state.get("model_state") or {})}


def load_run(workdir: str, key: str, *, workload: Optional[str] = None, train_hint: str = "") -> FinishedRun:
  """The finished run in `workdir`; one ConfigError naming `key` (the config key or flag that
  named the workdir) when it is missing, unfinished, of another workload or without checkpoint."""
  path = os.path.join(workdir, SUMMARY_FILE)
  hint = f"; train it first: {train_hint.format(workdir=workdir)}" if train_hint else ""
  if not os.path.isfile(path):
    raise ConfigError(f"{key}={workdir!r} holds no finished run (no {SUMMARY_FILE}){hint}")
  try:
    with open(path) as f:
      summary = json.load(f)
    config = ml_collections.ConfigDict(summary["config"])
  except (ValueError, KeyError, TypeError) as e:
    raise ConfigError(f"{key}={workdir!r}: {path} is not a run summary ({type(e).__name__}: {e})") from e
  if workload is not None and config.get("workload") != workload:
    raise ConfigError(f"{key}={workdir!r} is a {config.get('workload')!r} run, not a {workload!r} run{hint}")
  checkpointer = Checkpointer(workdir, keep=1, read_only=True)
  try:
    step = checkpointer.latest_step()
    if step is None:
      raise ConfigError(f"{key}={workdir!r} has no checkpoint{hint}")
    state = checkpointer.restore_raw(step)["train_state"]
  finally:
    checkpointer.close()
  return FinishedRun(workdir, config, summary, step, state)

