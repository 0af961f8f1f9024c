"""The one training path every workload runs through.

`train_and_evaluate` builds the mesh, creates the state already sharded, restores
or initialises it, runs the loop (logging, periodic validation, checkpoints, NaN
checks, progress) and finishes with the test evaluation, plots and summary.json.
"""
import dataclasses
import functools
import json
import os
import queue
import signal
import threading
import time
from typing import Any, Callable, Optional

import jax
import numpy as np
from jax.experimental import multihost_utils
from tqdm import tqdm

from bigmodel_jax import parallel, plots
from bigmodel_jax.checkpoints import Checkpointer, abstract_like, load_matching_params
from bigmodel_jax.errors import ConfigError, TrainingDiverged, UserError
from bigmodel_jax.metric_writer import MetricWriter, read_metrics
from bigmodel_jax.workloads import get_workload
from bigmodel_jax.workloads.base import Workload

SUMMARY_FILE = "summary.json"
EVAL_SUMMARY_FILE = "eval_summary.json"


class StopTraining(Exception):
  """Raised by an `on_eval` hook to end training early (e.g. a time-to-accuracy benchmark)."""


class Interrupted(UserError):
  """SIGTERM or Ctrl-C: a checkpoint of the current step was saved first."""


class _StopSignals:
  """Turns SIGTERM / SIGINT into a flag the loop checks after each step (main thread only)."""

  def __init__(self):
    self.received = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGTERM, signal.SIGINT):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.received = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)


@dataclasses.dataclass
class Run:
  """Everything built once per invocation and shared by training and evaluation."""
  config: Any
  workdir: str
  workload: Workload
  mesh: Any
  data: Any
  num_steps: int
  shardings: Any
  train_fn: Callable
  eval_fn: Callable
  checkpointer: Checkpointer


def prepare_workdir(workdir: str) -> str:
  if os.path.exists(workdir) and not os.path.isdir(workdir):
    raise UserError(f"--workdir={workdir} is a file, not a directory")
  os.makedirs(workdir, exist_ok=True)
  return workdir


def _jit_train_fn(workload, config, spec, mesh, shardings):
  step_fn = functools.partial(workload.train_step, config=config, spec=spec)

  def train_fn(state, batch, base_rng):
    # Per-step randomness from the step alone, so a resumed run draws the same numbers.
    return step_fn(state, batch, jax.random.fold_in(base_rng, state.step))

  return jax.jit(train_fn, donate_argnums=0,
                 in_shardings=(shardings, parallel.batch_sharding(mesh), parallel.replicated(mesh)),
                 out_shardings=(shardings, parallel.replicated(mesh)))


def _jit_eval_fn(workload, config, spec, mesh, shardings):
  eval_fn = functools.partial(workload.eval_step, config=config, spec=spec)
  batch = parallel.batch_sharding(mesh)
  return jax.jit(eval_fn, in_shardings=(shardings, batch), out_shardings=batch)


def build_run(config, workdir: str, *, read_only: bool = False) -> tuple[Run, Any]:
  """Builds the run and returns it with its initial (sharded, unrestored) state."""
  workdir = prepare_workdir(workdir)
  workload = get_workload(config.workload)
  mesh = parallel.make_mesh(config.mesh)
  parallel.check_batch_divisible(config.train.batch_size, mesh)
  parallel.check_batch_divisible(config.eval.batch_size, mesh, what="eval.batch_size")
  data = workload.make_data(config)
  spec = data.spec
  init_fn = functools.partial(workload.init_state, config=config, spec=spec)
  rng = jax.random.PRNGKey(config.seed)
  try:
    state, shardings = parallel.create_sharded_state(init_fn, rng, mesh, config.mesh.param_sharding)
  except (ValueError, TypeError, ZeroDivisionError) as e:  # e.g. a kernel larger than its input.
    raise ConfigError(f"model {config.model.name!r} cannot be built for inputs of shape "
                      f"{tuple(spec.input_shape)}: {type(e).__name__}: {str(e).splitlines()[0]}") from e
  checkpointer = Checkpointer(workdir, keep=config.checkpoint.keep, async_save=config.checkpoint.async_save,
                              read_only=read_only)
  run = Run(config, workdir, workload, mesh, data, workload.num_train_steps(config, spec), shardings,
            _jit_train_fn(workload, config, spec, mesh, shardings),
            _jit_eval_fn(workload, config, spec, mesh, shardings), checkpointer)
  return run, state


def _checkpoint_meta(config) -> dict:
  # Through JSON so tuples compare equal to the lists a restored checkpoint holds.
  return json.loads(json.dumps({"workload": config.workload, "model": config.model.to_dict()}))


def restore_or_init(run: Run, state) -> tuple[Any, Any, int]:
  """Returns (state, base train rng, step): from the latest checkpoint, from `init_from`, or fresh."""
  train_rng = jax.device_put(jax.random.fold_in(jax.random.PRNGKey(run.config.seed), 1),
                             parallel.replicated(run.mesh))
  target = {"train_state": state, "rng": train_rng}
  step = run.checkpointer.latest_step()
  if step is not None:
    shardings = {"train_state": run.shardings, "rng": parallel.replicated(run.mesh)}
    restored = run.checkpointer.restore(step, abstract_like(target, shardings), _checkpoint_meta(run.config))
    return restored["train_state"], restored["rng"], step
  if run.config.init_from:
    params, skipped = load_matching_params(run.config.init_from, state.params, run.shardings.params)
    if skipped:
      print(f"init_from: kept the fresh initialisation of {len(skipped)} parameter(s): {skipped}")
    state = state.replace(params=params)
  return state, train_rng, 0


def to_host(tree):
  """Fetches (possibly multi-host) sharded arrays to NumPy on every host."""
  if jax.process_count() > 1:
    return multihost_utils.process_allgather(tree, tiled=True)
  return jax.device_get(tree)


def evaluate_split(run: Run, state, split: str) -> dict:
  """Runs `eval_step` over a whole split; returns the per-example outputs with padding removed."""
  rows = parallel.process_slice(run.config.eval.batch_size)
  chunks = []
  for batch in run.data.eval_batches(split, run.config.eval.batch_size):
    mask = batch.pop("mask")
    local = {k: v[rows] for k, v in batch.items()}
    outputs = to_host(run.eval_fn(state, parallel.shard_batch(local, run.mesh)))
    chunks.append({k: np.asarray(v)[mask] for k, v in outputs.items()})
  return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


def validate(run: Run, state, split: str = "validation") -> dict:
  outputs = evaluate_split(run, state, split)
  return run.workload.summarize(outputs, config=run.config, data=run.data)


def check_finite(step: int, metrics: dict, last_good: Optional[int]) -> None:
  for name, value in metrics.items():
    if "loss" in name and not np.isfinite(value):
      raise TrainingDiverged(
          f"{name} is {value} at step {step}; stopped. Last good checkpoint: "
          f"{'step ' + str(last_good) if last_good is not None else 'none'}")


def prefetch(iterator, size: int = 2):
  """Assembles the next host batches on a thread while the devices run the current step."""
  buffer, stop, done = queue.Queue(maxsize=size), threading.Event(), object()

  def put(item) -> bool:
    while not stop.is_set():
      try:
        buffer.put(item, timeout=0.1)
        return True
      except queue.Full:
        continue
    return False

  def fill():
    try:
      for item in iterator:
        if not put(item):
          return
    except Exception as e:  # Handed to the consumer, which re-raises it.
      put(e)
    put(done)

  threading.Thread(target=fill, daemon=True).start()
  try:
    while (item := buffer.get()) is not done:
      if isinstance(item, Exception):
        raise item
      yield item
  finally:  # The consumer stopped early (StopTraining, an error): let the thread end.
    stop.set()


def _eval_interval(run: Run) -> int:
  every = run.config.train.eval_every_steps
  if every > 0:
    return every
  return getattr(run.data.spec, "steps_per_epoch", 0) or run.num_steps  # -1: once an epoch.


class _MetricWindow:
  """Step metrics kept on device and fetched together at log, checkpoint and eval steps.

  Reading them every step would make the host wait for each step in turn; a NaN is
  still caught, and named by its step, before any checkpoint is written after it.
  """

  def __init__(self, last_good: Optional[int]):
    self.pending = []   # (step, device metrics) not yet read.
    self.rows = []      # Host metrics since the last log.
    self.last_good = last_good

  def push(self, step: int, device_metrics) -> None:
    self.pending.append((step, device_metrics))

  def drain(self) -> None:
    fetched = jax.device_get(self.pending)
    self.pending = []
    for step, metrics in fetched:
      host = {k: float(v) for k, v in metrics.items()}
      check_finite(step, host, self.last_good)
      self.rows.append(host)

  def mean_and_reset(self) -> dict:
    self.drain()
    means = {k: float(np.mean([r[k] for r in self.rows])) for k in self.rows[0]} if self.rows else {}
    self.rows = []
    return means


def _save_checkpoint(run: Run, window: _MetricWindow, step: int, item, meta: dict) -> None:
  window.drain()  # Never save a state whose loss was not checked.
  if run.checkpointer.latest_step() != step:
    run.checkpointer.save(step, item, meta)
  window.last_good = step


def train_loop(run: Run, state, train_rng, start_step: int, writer: MetricWriter,
               on_eval: Optional[Callable] = None):
  """Steps from `start_step` to `run.num_steps`; returns (final state, training seconds).

  Training seconds include compilation but not validation, hooks or checkpoint waits
  at the end. `on_eval(step, state, run, train_seconds)` runs after each validation;
  it may raise StopTraining.
  """
  cfg, meta = run.config, _checkpoint_meta(run.config)
  eval_every, rows = _eval_interval(run), parallel.process_slice(cfg.train.batch_size)
  window = _MetricWindow(run.checkpointer.latest_step())
  batches = prefetch(run.data.train_batch(s) for s in range(start_step, run.num_steps))
  bar = tqdm(total=run.num_steps, initial=start_step, unit="step", dynamic_ncols=True,
             disable=not cfg.train.progress_bar or jax.process_index() != 0)
  tick, tick_step = time.perf_counter(), start_step
  loop_start, eval_seconds = tick, 0.0
  with _StopSignals() as signals:
    for step in range(start_step, run.num_steps):
      batch = parallel.shard_batch({k: v[rows] for k, v in next(batches).items()}, run.mesh)
      state, metrics = run.train_fn(state, batch, train_rng)
      done = step + 1
      window.push(done, metrics)
      bar.update(1)
      if done % cfg.train.log_every_steps == 0 or done == run.num_steps:
        train_metrics = window.mean_and_reset()
        now = time.perf_counter()
        train_metrics["examples_per_sec"] = (done - tick_step) * cfg.train.batch_size / (now - tick)
        tick, tick_step = now, done
        writer.write(done, {f"train/{k}": v for k, v in train_metrics.items()})
        bar.set_postfix(loss=f"{train_metrics.get('loss', float('nan')):.4f}",
                        ex_per_s=f"{train_metrics['examples_per_sec']:.0f}")
      if done % cfg.checkpoint.every_steps == 0 or done == run.num_steps:
        _save_checkpoint(run, window, done, {"train_state": state, "rng": train_rng}, meta)
      if done % eval_every == 0 or done == run.num_steps:
        window.drain()
        eval_start = time.perf_counter()
        writer.write(done, {f"val/{k}": v for k, v in validate(run, state).items()})
        try:
          if on_eval is not None:
            on_eval(done, state, run, eval_start - loop_start - eval_seconds)
        except StopTraining:
          break
        finally:  # Throughput and training time leave evaluation out.
          spent = time.perf_counter() - eval_start
          tick, eval_seconds = tick + spent, eval_seconds + spent
      if signals.received:
        _save_checkpoint(run, window, done, {"train_state": state, "rng": train_rng}, meta)
        raise Interrupted(f"{signals.received} at step {done}: saved a checkpoint there; "
                          f"rerun the same command to resume")
  window.drain()
  bar.close()
  return state, time.perf_counter() - loop_start - eval_seconds


def _plot_training_curves(workdir: str) -> None:
  history = read_metrics(workdir)
  keys = {k for row in history for k in row}
  names = sorted(k.split("/", 1)[1] for k in keys if k.startswith("train/") and "val/" + k.split("/", 1)[1] in keys)
  if names:
    plots.plot_curves(history, names, os.path.join(workdir, "training_curves.png"))


def final_report(run: Run, state, timings: dict) -> dict:
  """Test-split metrics, the workload's report (plots) and training curves, as the run summary."""
  outputs = evaluate_split(run, state, "test")
  test_metrics = run.workload.summarize(outputs, config=run.config, data=run.data)
  summary = {"step": int(jax.device_get(state.step)), "test": test_metrics}
  if jax.process_index() == 0:
    summary["test_details"] = run.workload.report(outputs, run.workdir, config=run.config, data=run.data)
    _plot_training_curves(run.workdir)
  devices = run.mesh.devices.flatten()
  summary.update(timings, devices=len(devices), device_kind=devices[0].device_kind,
                 config=run.config.to_dict())
  return summary


def train_and_evaluate(config, workdir: str, mode: str = "train",
                       on_eval: Optional[Callable] = None) -> dict:
  """Trains (resuming if the workdir has checkpoints) or, with mode='eval', only evaluates.

  Returns the summary that is also written to `<workdir>/summary.json` (`eval_summary.json`
  in eval mode).
  """
  if mode not in ("train", "eval"):
    raise UserError(f"--mode={mode!r}; choose 'train' or 'eval'")
  start = time.perf_counter()
  run, state = build_run(config, workdir, read_only=mode == "eval")
  try:
    state, train_rng, step = restore_or_init(run, state)
    if mode == "eval" and run.checkpointer.latest_step() is None:
      raise UserError(f"--mode=eval: {workdir} has no checkpoint to evaluate")
    timings = {}
    if mode == "train":
      writer = MetricWriter(workdir, resume_step=step)
      try:
        state, timings["train_time_s"] = train_loop(run, state, train_rng, step, writer, on_eval)
      finally:
        writer.close()
    summary = final_report(run, state, timings)
    summary["wall_time_s"] = time.perf_counter() - start
  finally:
    run.checkpointer.close()
  if jax.process_index() == 0:  # An evaluation keeps the training run's summary.json intact.
    with open(os.path.join(workdir, SUMMARY_FILE if mode == "train" else EVAL_SUMMARY_FILE), "w") as f:
      json.dump(summary, f, indent=2, default=str)
  return summary
