"""The one path every workload runs through.

`train_and_evaluate` builds the run (mesh, device data, state created sharded,
jitted functions), restores or initialises the state, runs the loop
(`train_loop.py`) and finishes with the final evaluation and report
(`evaluation.py`) into summary.json; with another `mode` it runs the built-in
evaluation or one of the workload's modes (sample, predict, ...) on the latest checkpoint.
"""
import dataclasses
import functools
import json
import os
import sys
import time
from typing import Any, Callable, Optional

import jax

from bigmodel_jax.config.validate import check_config, check_mode_options
from bigmodel_jax.engine import evaluation, files, parallel, train_loop
from bigmodel_jax.engine.checkpoints import Checkpointer, UnreadableCheckpoint, abstract_like, load_matching_arrays
from bigmodel_jax.engine.metric_writer import MetricWriter
from bigmodel_jax.errors import CheckpointError, ConfigError, UserError
from bigmodel_jax.workloads import get_workload
from bigmodel_jax.workloads.base import Data, Workload, checkpoint_meta

# Re-exported: what callers of the trainer use.
StopTraining = train_loop.StopTraining
Interrupted = train_loop.Interrupted

SUMMARY_FILE = "summary.json"
BUILT_IN_MODES = ("train", "eval")


@dataclasses.dataclass
class Run:
  """Everything built once per invocation and shared by training, evaluation and modes."""
  config: Any
  workdir: str
  workload: Workload
  mesh: Any
  data: Data
  device_data: dict
  num_steps: int
  eval_every: int
  shardings: Any
  batch_placement: dict
  train_fn: Callable
  eval_fn: Callable
  checkpointer: Checkpointer
  config_source: str = ""
  timings: dict = dataclasses.field(default_factory=dict)   # Filled by training; `report` may read them.
  # What a checkpoint of this run must agree with (workloads.base.checkpoint_meta).
  checkpoint_meta: dict = dataclasses.field(default_factory=dict)
  # Train metrics of the restored checkpoint not logged yet (train_loop.MetricWindow.unlogged).
  unlogged: Optional[dict] = None
  # What a workload computes once per run and reuses (jitted sampling functions, real-data features).
  cache: dict = dataclasses.field(default_factory=dict)

  @property
  def is_writer(self) -> bool:
    """Only process 0 writes files (summary, plots, samples); every process computes."""
    return jax.process_index() == 0


def check_workdir(workdir: str, read_only: bool) -> None:
  """Before anything is built: a file is no workdir, and reading (eval, modes) needs one that exists."""
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"--workdir={workdir} is a file, not a directory")
  if read_only and not os.path.isdir(workdir):
    raise UserError(f"--workdir={workdir} does not exist; train into it first")


def prepare_workdir(workdir: str) -> str:
  os.makedirs(workdir, exist_ok=True)
  return workdir


def _eval_interval(config, data: Data, num_steps: int) -> int:
  every = config.train.eval_every_steps
  if every > 0:
    return every
  return data.steps_per_epoch() or num_steps   # -1: once an epoch (or at the end).


def _place_device_data(workload, config, data: Data, mesh) -> tuple[dict, Any]:
  layout = workload.data_layout(config, mesh) if workload.data_layout else None
  placed = parallel.place_global(data.device_arrays(), mesh, layout)
  return placed, jax.tree.map(lambda x: x.sharding, placed)


def _batch_placement(config, data: Data) -> dict:
  """PartitionSpecs of the dispatched host batches (rows over `data`); {} for batches made on device."""
  if not data.host_batches:
    return {}
  specs = parallel.batch_specs(data.train_batch(0))
  return train_loop.stacked_specs(specs, config.train.steps_per_dispatch)


def _check_run_length(config, num_steps: int) -> None:
  k = config.train.steps_per_dispatch
  if num_steps < 1 or num_steps % k:
    raise ConfigError(f"the run's {num_steps} train steps are not a positive multiple of "
                      f"train.steps_per_dispatch={k}; change train.num_steps (or num_epochs)")


def _create_state(workload, config, spec, mesh, device_data):
  init_fn = functools.partial(workload.init_state, config=config, spec=spec)
  rng = jax.random.PRNGKey(config.seed)
  try:
    return parallel.create_sharded_state(init_fn, rng, mesh, config.mesh, device_data)
  except (ValueError, TypeError, ZeroDivisionError) as e:  # e.g. a kernel larger than its input.
    what = f"model {config.model.name!r}" if "model" in config else f"the {config.workload} state"
    raise ConfigError(f"{what} cannot be built for this data ({spec}): {type(e).__name__}: "
                      f"{str(e).splitlines()[0]}") from e


def build_run(config, workdir: str, *, read_only: bool = False, config_source: str = "") -> tuple[Run, Any]:
  """Builds the run and returns it with its initial (sharded, unrestored) state.

  Everything that can refuse the run (config, mesh, data, model shapes) runs before the
  workdir is created or touched.
  """
  workload = get_workload(config.workload)
  check_config(config, workload)
  check_workdir(workdir, read_only)
  mesh = parallel.make_mesh(config.mesh)
  if "train.batch_size" not in workload.unused_keys:
    parallel.check_batch_divisible(config.train.batch_size, mesh)
  parallel.check_batch_divisible(config.eval.batch_size, mesh, what="eval.batch_size")
  data = workload.make_data(config, mesh)
  spec = data.spec
  num_steps = workload.num_train_steps(config, spec)
  _check_run_length(config, num_steps)
  with parallel.mesh_context(mesh, config.mesh):
    device_data, data_shardings = _place_device_data(workload, config, data, mesh)
    state, shardings = _create_state(workload, config, spec, mesh, device_data)
  placement = _batch_placement(config, data)
  workdir = workdir if read_only else prepare_workdir(workdir)
  checkpointer = Checkpointer(workdir, keep=config.checkpoint.keep, async_save=config.checkpoint.async_save,
                              read_only=read_only)
  run = Run(config, workdir, workload, mesh, data, device_data, num_steps,
            _eval_interval(config, data, num_steps), shardings, placement,
            train_loop.make_train_fn(workload, config, spec, mesh, shardings, placement, data_shardings,
                                     data.host_batches),
            evaluation.make_eval_fn(workload, config, spec, mesh, shardings), checkpointer, config_source,
            checkpoint_meta=checkpoint_meta(config, workload, data))
  return run, state


def restore_or_init(run: Run, state) -> tuple[Any, Any, int]:
  """Returns (state, base train rng, step): from the latest checkpoint, from `init_from`, or fresh."""
  train_rng = jax.device_put(jax.random.fold_in(jax.random.PRNGKey(run.config.seed), 1),
                             parallel.replicated(run.mesh))
  target = {"train_state": state, "rng": train_rng}
  if run.checkpointer.latest_step() is not None:
    shardings = {"train_state": run.shardings, "rng": parallel.replicated(run.mesh)}
    restored, step = _restore_newest_readable(run, abstract_like(target, shardings))
    run.unlogged = run.checkpointer.restore_meta(step).get("unlogged")
    return restored["train_state"], restored["rng"], step
  if run.config.get("init_from"):
    state = _init_from(run, state)
  return state, train_rng, 0


def _restore_newest_readable(run: Run, abstract_target) -> tuple[Any, int]:
  """The newest checkpoint that can be read; each unreadable one is named in one line.

  An unreadable checkpoint is never deleted or overwritten: evaluation leaves it where it
  is; training moves it (files untouched) to checkpoints_unreadable/ so it can write that
  step again. A checkpoint of another model is an error, not something to skip.
  """
  ignore = ("training",) if run.checkpointer.read_only else ()   # Evaluating needs no optimizer.
  for step in reversed(run.checkpointer.all_steps()):
    try:
      return run.checkpointer.restore(step, abstract_target, run.checkpoint_meta, ignore), step
    except UnreadableCheckpoint as e:
      note = ""
      if not run.checkpointer.read_only:
        note = f"; moved to {run.checkpointer.set_aside(step)}"
      if run.is_writer:
        print(f"warning: {e}{note}; trying the previous checkpoint", file=sys.stderr)
  raise CheckpointError(f"no readable checkpoint in {run.checkpointer.directory}; "
                        f"use a fresh --workdir (the unreadable ones were kept)")


def _init_from(run: Run, state):
  """The state with the arrays under `Workload.transfer_fields` taken from another run where
  path and shape match (e.g. all but a new classifier head)."""
  state, skipped = load_matching_arrays(run.config.init_from, state, run.shardings, run.workload.transfer_fields)
  if skipped and run.is_writer:
    print(f"init_from: kept the fresh initialisation of {len(skipped)} array(s): {skipped}")
  return state


def _read_summary(workdir: str) -> Optional[dict]:
  path = os.path.join(workdir, SUMMARY_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path) as f:
      return json.load(f)
  except ValueError:   # Not written by this version (it writes atomically): treat the run as unfinished.
    print(f"warning: {path} is not JSON; it will be written again", file=sys.stderr)
    return None


def _write_summary(run: Run, name: str, summary: dict) -> None:
  if run.is_writer:
    files.write_json(os.path.join(run.workdir, name), summary, indent=2, default=str)


def _train(run: Run, state, on_eval, start: float) -> dict:
  state, train_rng, step = restore_or_init(run, state)
  finished = _read_summary(run.workdir)
  stop = run.workload.stop_metric   # A run that stopped on it (e.g. k-means converged) is finished too.
  done = step >= run.num_steps or bool(stop and (finished or {}).get("stopped_by") == stop)
  if done and finished is not None and finished.get("step") == step:
    print(f"{run.workdir} already finished at step {step}; summary.json kept "
          f"(use a new --workdir or raise the run's length to train more)")
    return finished
  timings = run.timings
  if step < run.num_steps:
    writer = MetricWriter(run.workdir, resume_step=step)
    try:
      state, timings["train_time_s"], step = train_loop.train_loop(run, state, train_rng, step, writer, on_eval,
                                                                    timings=timings)
    finally:
      writer.close()
  run.checkpointer.wait()
  summary = evaluation.final_report(run, state, step, timings)
  summary["wall_time_s"] = time.perf_counter() - start
  _write_summary(run, SUMMARY_FILE, summary)
  return summary


def _restore_latest(run: Run, state, mode: str):
  if run.checkpointer.latest_step() is None:
    raise UserError(f"--mode={mode}: {run.workdir} has no checkpoint")
  state, _, step = restore_or_init(run, state)
  return state, step


def train_and_evaluate(config, workdir: str, mode: str = "train", on_eval: Optional[Callable] = None,
                       options: Optional[dict] = None, config_source: str = "") -> dict:
  """Trains (resuming if the workdir has checkpoints), evaluates, or runs a workload mode.

  train: returns the summary also written to `<workdir>/summary.json`.
  eval: evaluates the latest checkpoint into `eval_summary.json` (summary.json is kept).
  other modes (`Workload.modes`): their result, written to `<mode>_summary.json`.
  """
  start = time.perf_counter()
  workload = get_workload(config.workload)
  if mode not in BUILT_IN_MODES and mode not in workload.modes:
    raise UserError(f"--mode={mode!r}; workload {config.workload!r} offers "
                    f"{supported_modes(config)}")
  check_config(config, workload)
  options = check_mode_options(config, mode, workload.modes.get(mode), options or {})
  run, state = build_run(config, workdir, read_only=mode != "train", config_source=config_source)
  try:
    with parallel.mesh_context(run.mesh, config.mesh):
      if mode == "train":
        return _train(run, state, on_eval, start)
      state, step = _restore_latest(run, state, mode)
      if mode in workload.modes:   # A workload's own "eval" replaces the built-in one.
        result = {"step": step, **workload.modes[mode].run(run, state, options)}
      else:
        result = evaluation.final_report(run, state, step, {})
      result["wall_time_s"] = time.perf_counter() - start
      _write_summary(run, f"{mode}_summary.json", result)
      return result
  finally:
    run.checkpointer.close()


def supported_modes(config) -> list[str]:
  return list(BUILT_IN_MODES) + sorted(set(get_workload(config.workload).modes) - set(BUILT_IN_MODES))



def describe_mode(config, mode: str) -> str:
  """What `--mode=<mode>` does for the config's workload, and each of its flags with its default."""
  workload = get_workload(config.workload)
  if mode == "train":
    return (f"--mode=train: trains workload {config.workload!r} from its latest checkpoint (or from the start) "
            f"and writes summary.json; no flags of its own")
  if mode not in workload.modes:
    if mode == "eval":
      return "--mode=eval: evaluates the latest checkpoint into eval_summary.json; no flags of its own"
    raise UserError(f"--mode={mode!r}; workload {config.workload!r} offers {supported_modes(config)}")
  entry = workload.modes[mode]
  lines = [f"--mode={mode} of workload {config.workload!r}: {entry.help}"]
  for name, flag in sorted(entry.flags.items()):
    default = f"config key {flag.default_key}" if flag.default_key else repr(flag.default)
    lines.append(f"  --{name}: {flag.help}; {flag.check.allowed}; default {default}")
  return "\n".join(lines) if entry.flags else lines[0] + "\n  (no flags)"
