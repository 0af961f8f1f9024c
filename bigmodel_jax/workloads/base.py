"""What a workload hands the shared trainer (`bigmodel_jax.trainer`).

The trainer owns the mesh, shardings, jit, the loop, checkpoints, logging, NaN
checks, evaluation cadence and the summary; a workload owns its data, its state
and its pure functions. Only the first seven fields are required; the rest have
the defaults of supervised learning and are overridden where a workload differs.

Data object (`make_data(config)`):
  .spec                     small, frozen, hashable static facts (shapes, counts):
                            bound into the jitted functions, never arrays.
  .train_batch(step)        global host batch of `step` (dict of NumPy arrays), a pure
                            function of (seed, step). Without it (or None) batches are
                            made on device by `gather_batch`, or are {} (RL).
  .device_arrays()          optional: dict of host arrays placed on the devices once
                            (laid out by `data_layout`), e.g. uint8 images, all k-means
                            points, a token stream; handed to `init_state` and `gather_batch`.
  .eval_batches(split, n)   dicts of host arrays for one evaluation pass; an optional
                            boolean `mask` marks the real rows of a padded batch.

Functions (`config` and `spec` are bound by keyword, everything else is an array):
  init_state(rng, device_data, *, config, spec) -> state    pytree of arrays. Flax
      logical-axis boxes (`nn.with_logical_partitioning`) are allowed: the layout reads
      them and the trainer unboxes the state.
  gather_batch(device_data, step, rng, *, config, spec) -> batch    on device, inside
      the jitted step (random LM windows, a full k-means batch, {} for RL).
  train_step(state, batch, rng, *, config, spec) -> (state, metrics)    metrics are
      arrays of any shape (a seed axis is fine); the trainer scans
      `train.steps_per_dispatch` of these per dispatch.
  eval_step(state, batch, rng, *, config, spec) -> dict of per-row arrays.
  summarize(outputs, *, config, data) -> dict of floats    on the unpadded outputs.
  report(run, state, outputs) -> dict    final extras (plots, samples); runs on every
      process, writes files only where `run.is_writer`.
"""
import dataclasses
import json
from typing import Any, Callable, Optional


def _examples_per_step(config, spec) -> tuple[str, int]:
  del spec
  return "examples", config.train.batch_size


def default_checkpoint_meta(config) -> dict:
  """What a checkpoint must agree with to be restored: the workload and, if any, the model."""
  meta = {"workload": config.workload}
  if "model" in config:
    meta["model"] = config.model.to_dict()
  # Through JSON so tuples compare equal to the lists a restored checkpoint holds.
  return json.loads(json.dumps(meta))


@dataclasses.dataclass(frozen=True)
class Workload:
  make_data: Callable[..., Any]
  # (config, spec) -> number of train steps (updates) of a full run.
  num_train_steps: Callable[..., int]
  init_state: Callable[..., Any]
  train_step: Callable[..., Any]
  eval_step: Callable[..., dict]
  summarize: Callable[..., dict]
  report: Callable[..., dict]
  # On-device batches, used when the data object has no `train_batch` (None there: batch = {}).
  gather_batch: Optional[Callable[..., Any]] = None
  # Splits evaluated during training (as val/<metric>) and at the end (as the summary's "test").
  eval_splits: tuple = ("validation",)
  final_split: str = "test"
  # Metrics whose every element must be finite; anything else is logged as it is.
  guarded_metrics: tuple = ("loss",)
  # Train metrics drawn in training_curves.png besides those with a val/ twin.
  curve_metrics: tuple = ()
  # (config, spec) -> (unit, units per train step), logged as train/<unit>_per_sec.
  throughput: Callable[..., tuple] = _examples_per_step
  checkpoint_meta: Callable[[Any], dict] = default_checkpoint_meta
  # State fields that `init_from` copies from another run (matched by path and shape).
  transfer_fields: tuple = ("params",)
  # (config, mesh) -> PartitionSpec of every host batch array (None = rows over `data`).
  batch_layout: Optional[Callable[..., Any]] = None
  # (config, mesh) -> PartitionSpec, or dict of them, for device_arrays (None = replicated).
  data_layout: Optional[Callable[..., Any]] = None
  # Extra --mode values: name -> fn(run, state, options) -> dict, run on the latest checkpoint
  # (an "eval" entry replaces the built-in evaluation, e.g. RL episodes with --num_episodes).
  modes: dict = dataclasses.field(default_factory=dict)
  # Valid values of the workload's own config keys: dotted key -> check (bigmodel_jax.validation).
  config_checks: dict = dataclasses.field(default_factory=dict)
  # A train metric that ends the run early once every element of it is nonzero at some step
  # (e.g. k-means "converged"); the workload makes the steps after that one no-ops.
  stop_metric: str = ""
  # fn(run, state, step, writer) after each evaluation during training (e.g. a sample grid image).
  on_evaluation: Optional[Callable[..., None]] = None
  # (config, spec) -> model FLOPs per throughput unit; with it the loop also logs train/mfu.
  flops_per_unit: Optional[Callable[..., float]] = None
