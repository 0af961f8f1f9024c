"""What a workload hands the shared trainer (`bigmodel_jax.trainer`).

The trainer owns the mesh, shardings, jit, loop, checkpoints, logging and NaN checks;
a workload owns its data, its state and its pure step functions. `spec` is the
data's small static description (shapes, class count, steps), never its arrays,
so nothing large is baked into a compiled function.
"""
import dataclasses
from typing import Any, Callable


@dataclasses.dataclass(frozen=True)
class Workload:
  # config -> host data object with `.spec`, `.train_batch(step) -> dict of arrays`
  # (global batch, possibly {} for workloads that make data on device) and
  # `.eval_batches(split, batch_size)` yielding dicts with a boolean `mask`.
  make_data: Callable[..., Any]
  # (config, spec) -> number of optimizer steps of a full run.
  num_train_steps: Callable[..., int]
  # (rng, *, config, spec) -> state; pure, with an int `step` field.
  init_state: Callable[..., Any]
  # (state, batch, rng, *, config, spec) -> (state, metrics of scalars); pure.
  train_step: Callable[..., Any]
  # (state, batch, *, config, spec) -> dict of per-example arrays; pure.
  eval_step: Callable[..., dict]
  # (outputs, *, config, data) -> scalar metrics; host side, on the unpadded outputs.
  summarize: Callable[..., dict]
  # (outputs, workdir, *, config, data) -> extra final metrics (plots go to workdir).
  report: Callable[..., dict]
