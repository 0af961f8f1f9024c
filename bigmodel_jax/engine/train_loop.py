"""The training loop: K updates per jitted dispatch, metrics read in windows, NaN checks,
logging, checkpoint cadence, evaluation hooks and stop signals.

Every event (log, checkpoint, evaluation) fires at the end of the dispatch whose
steps cross its interval, so intervals need not be multiples of
`train.steps_per_dispatch`, but the run's length must be.
"""
import functools
import time
from typing import Callable, Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm import tqdm

from bigmodel_jax.engine import evaluation, hardware, host, parallel
from bigmodel_jax.errors import TrainingDiverged, UserError


class StopTraining(Exception):
  """Raised by an `on_eval` hook to end training early (e.g. a time-to-accuracy benchmark)."""


class Interrupted(UserError):
  """SIGTERM or Ctrl-C: a checkpoint of the current step was saved first."""

  def __init__(self, signal_name: str, step: int):
    super().__init__(f"{signal_name}: stopped at step {step}, checkpoint saved; rerun the same command to resume")
    self.exit_status = host.STOP_EXIT_STATUS.get(signal_name, 1)
    self.step = step


def make_train_fn(workload, config, spec, mesh, shardings, batch_placement: dict, data_shardings,
                  host_batches: bool = True):
  """Jits K = train.steps_per_dispatch updates as one call: (state, batches, device_data, rng, step)
  -> (state, metrics stacked over the K steps, step + K).

  With `host_batches` the K batches come stacked from the host, each array placed by
  `batch_placement` (`stacked_specs`); otherwise the workload's `gather_batch` makes
  each step's batch on device (or the batch is {}, e.g. RL). The step counter stays on
  device, so a workload whose data lives there uploads nothing per dispatch. Step s draws its
  randomness from fold_in(rng, s) alone, so a resumed run
  draws the same numbers.
  """
  k = config.train.steps_per_dispatch
  step_fn = functools.partial(workload.train_step, config=config, spec=spec)
  gather = None
  if not host_batches and workload.gather_batch is not None:
    gather = functools.partial(workload.gather_batch, config=config, spec=spec)

  def one_step(state, batch, device_data, base_rng, step):
    rng = jax.random.fold_in(base_rng, step)
    if gather is not None:
      data_rng, rng = jax.random.split(rng)
      batch = gather(device_data, step, data_rng)
    return step_fn(state, batch, rng)

  def train_fn(state, batches, device_data, base_rng, first_step):
    if k == 1:  # No scan: XLA:CPU runs some convolutions far slower inside one.
      state, metrics = one_step(state, batches, device_data, base_rng, first_step)
      return state, jax.tree.map(lambda m: m[None], metrics), first_step + 1

    def body(state, i_and_batch):
      i, batch = i_and_batch
      return one_step(state, batch, device_data, base_rng, first_step + i)

    state, metrics = jax.lax.scan(body, state, (jnp.arange(k), batches))
    return state, metrics, first_step + k

  batch_shardings = {name: NamedSharding(mesh, spec) for name, spec in batch_placement.items()}
  rep = parallel.replicated(mesh)
  return jax.jit(train_fn, donate_argnums=0,
                 in_shardings=(shardings, batch_shardings, data_shardings, rep, rep),
                 out_shardings=(shardings, rep, rep))


def stacked_specs(specs: dict, k: int) -> dict:
  """Specs of K stacked host batches: a leading, unsplit step axis when K > 1."""
  return {name: P(*((None,) + tuple(spec))) if k > 1 else spec for name, spec in specs.items()}


def check_finite(first_step: int, name: str, values_KxS: np.ndarray, last_good: Optional[int]) -> None:
  """Raises TrainingDiverged naming the first step (and element) where a guarded metric is not finite."""
  finite = np.isfinite(values_KxS)
  if finite.all():
    return
  bad = np.argwhere(~finite)[0]
  step = first_step + int(bad[0]) + 1
  where = f" (element {tuple(int(i) for i in bad[1:])})" if len(bad) > 1 else ""
  value = values_KxS[tuple(bad)]
  raise TrainingDiverged(
      f"{name} is {value} at step {step}{where}; stopped. Last good checkpoint: "
      f"{'step ' + str(last_good) if last_good is not None else 'none'}")


def reduce_for_logging(rows: list[dict]) -> dict:
  """Means over the logged steps; a metric with more axes (e.g. seeds) also logs its min and max."""
  out = {}
  for name in rows[0]:
    per_step = np.concatenate([r[name] for r in rows])      # [steps, ...]
    mean_over_steps = per_step.mean(axis=0, dtype=np.float64)
    out[name] = float(np.mean(mean_over_steps))
    if np.ndim(mean_over_steps) > 0:
      out[f"{name}_min"] = float(np.min(mean_over_steps))
      out[f"{name}_max"] = float(np.max(mean_over_steps))
  return out


class MetricWindow:
  """Step metrics kept on device and fetched together at log, checkpoint and eval steps.

  Reading them every dispatch would make the host wait for each in turn; a NaN is
  still caught, and named by its step, before any checkpoint is written after it.
  """

  def __init__(self, guarded: tuple, last_good: Optional[int], watchdog: Optional[host.Watchdog] = None):
    self.guarded, self.watchdog = guarded, watchdog
    self.pending = []   # (first step, device metrics [K, ...]) not yet read.
    self.rows = []      # Host metrics since the last log.
    self.steps = []     # First step of each row.
    self.last_good = last_good

  def push(self, first_step: int, device_metrics) -> None:
    self.pending.append((first_step, device_metrics))

  def drain(self) -> None:
    if not self.pending:
      return
    if self.watchdog is None:
      fetched = jax.device_get(self.pending)
    else:
      with self.watchdog.waiting(f"the devices to finish the steps from {self.pending[0][0] + 1} on"):
        fetched = jax.device_get(self.pending)
    self.pending = []
    for first_step, metrics in fetched:
      self.steps.append(first_step)
      host_metrics = {k: np.asarray(v) for k, v in metrics.items()}
      for name in self.guarded:
        if name in host_metrics:
          check_finite(first_step, name, host_metrics[name], self.last_good)
      self.rows.append(host_metrics)

  def stop_step(self, name: str) -> Optional[int]:
    """The first step whose `name` metric is all nonzero (rows after it are dropped), or None."""
    self.drain()
    first, values = self.steps[-1], self.rows[-1][name]
    hit = np.flatnonzero(np.all(values.reshape(len(values), -1) != 0, axis=1))
    if not len(hit):
      return None
    self.rows[-1] = {key: v[:hit[0] + 1] for key, v in self.rows[-1].items()}
    return first + int(hit[0]) + 1

  def each_step(self, first: int) -> list:
    """(step, means over the extra axes) of every step of the latest dispatch but its last,
    which alone stays in the window (the caller logs it with the throughput)."""
    self.drain()
    row = self.rows[-1]
    steps = [(first + i + 1, reduce_for_logging([{name: v[i:i + 1] for name, v in row.items()}]))
             for i in range(len(next(iter(row.values()))) - 1)]
    self.rows[-1] = {name: v[-1:] for name, v in row.items()}
    return steps

  def unlogged(self) -> dict:
    """The drained rows not logged yet, as JSON (saved with a checkpoint, so that a run resumed from
    it logs at its next log step the mean of the same steps as an uninterrupted run)."""
    return {"steps": list(self.steps), "rows": [{k: v.tolist() for k, v in row.items()} for row in self.rows]}

  def resume_unlogged(self, saved: Optional[dict]) -> None:
    if saved:
      self.steps = list(saved["steps"])
      self.rows = [{k: np.asarray(v) for k, v in row.items()} for row in saved["rows"]]

  def reduce_and_reset(self) -> dict:
    self.drain()
    reduced = reduce_for_logging(self.rows) if self.rows else {}
    self.rows, self.steps = [], []
    return reduced


def _crossed(done: int, k: int, every: int) -> bool:
  """Whether the dispatch that ended at step `done` (after k steps) crossed a multiple of `every`."""
  return done // every > (done - k) // every


def own_rows(run) -> Optional[slice]:
  """With several processes, the rows of each global batch this process reads itself (batch rows
  are split over `data`, and processes own consecutive blocks of devices)."""
  if jax.process_count() == 1:
    return None
  return parallel.process_slice(run.config.train.batch_size)


def _stacked_host_batches(data, start: int, stop: int, k: int, rows: Optional[slice] = None):
  read = data.train_batch if rows is None else functools.partial(data.train_batch, rows=rows)
  for first in range(start, stop, k):
    group = [read(s) for s in range(first, first + k)]
    yield group[0] if k == 1 else {name: np.stack([b[name] for b in group]) for name in group[0]}


@jax.jit
def _finite_leaves(tree) -> list:
  """Per floating-point leaf: whether every element is finite (other leaves count as finite)."""
  return [jnp.all(jnp.isfinite(x)) if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.asarray(True)
          for x in jax.tree.leaves(tree)]


def check_state_finite(state, step: int, last_good: Optional[int]) -> None:
  """TrainingDiverged naming the first array of `state` that holds a NaN or infinity: a finite loss
  can come with parameters the same step's update broke, and those must never be checkpointed."""
  flags = jax.device_get(_finite_leaves(state))
  if all(flags):
    return
  paths = [jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(state)[0]]
  bad = paths[flags.index(False)]
  raise TrainingDiverged(f"the state after step {step} has NaN or infinite values in {bad}; stopped. "
                         f"Last good checkpoint: {'step ' + str(last_good) if last_good is not None else 'none'}")


def save_checkpoint(run, window: MetricWindow, step: int, item) -> None:
  """Saves `item` at `step` once its guarded metrics and every array of its state were checked finite."""
  window.drain()
  if run.checkpointer.latest_step() != step:
    check_state_finite(item["train_state"], step, window.last_good)
    run.checkpointer.save(step, item, {**run.checkpoint_meta, "unlogged": window.unlogged()})
  window.last_good = step


class _Throughput:
  """Units (examples, tokens, env steps) per second between logs, evaluation time left out."""

  def __init__(self, run, start_step: int):
    self.unit, self.per_step = run.workload.throughput(run.config, run.data.spec)
    self.tick, self.tick_step = time.perf_counter(), start_step
    flops = run.workload.flops_per_unit
    self.flops = flops(run.config, run.data.spec) if flops else 0.0
    self.peak = hardware.peak_flops(run.mesh.devices.flatten())

  def measure(self, done: int) -> tuple[str, float]:
    now = time.perf_counter()
    rate = (done - self.tick_step) * self.per_step / max(now - self.tick, 1e-9)
    self.tick, self.tick_step = now, done
    return f"{self.unit}_per_sec", rate

  def skip(self, seconds: float) -> None:
    self.tick += seconds


def train_loop(run, state, train_rng, start_step: int, writer, on_eval: Optional[Callable] = None,
               timings: Optional[dict] = None):
  """Steps from `start_step` to `run.num_steps`; returns (final state, training seconds, last step).

  Training seconds include compilation (also put in `timings["compile_time_s"]`) but not
  evaluation, hooks or checkpoint waits at the end. `on_eval(step, state, run, train_seconds)`
  runs after each evaluation; it may raise StopTraining, which saves a checkpoint of that
  step and ends the loop. With `Workload.stop_metric` the run ends at the first step where
  that metric is all nonzero (read after every dispatch); with `train.log_every_steps=1`
  every step of a dispatch is logged.
  """
  cfg, k = run.config, run.config.train.steps_per_dispatch
  watchdog = host.Watchdog(cfg.train.slow_dispatch_s)
  window = MetricWindow(run.workload.guarded_metrics, run.checkpointer.latest_step(), watchdog)
  window.resume_unlogged(run.unlogged)
  uses_host_batches = run.data.host_batches
  rows = own_rows(run) if uses_host_batches else None
  batches = host.prefetch(_stacked_host_batches(run.data, start_step, run.num_steps, k, rows)) \
      if uses_host_batches else None
  bar = tqdm(total=run.num_steps, initial=start_step, unit="step", dynamic_ncols=True,
             disable=not cfg.train.progress_bar or not run.is_writer)
  speed, loop_start, eval_seconds = _Throughput(run, start_step), time.perf_counter(), 0.0
  step_on_device = jax.device_put(jnp.asarray(start_step, jnp.int32), parallel.replicated(run.mesh))
  done, train_fn, timings = start_step, None, {} if timings is None else timings
  item = lambda: {"train_state": state, "rng": train_rng}
  with host.StopSignals() as signals, watchdog:
    for first in range(start_step, run.num_steps, k):
      batch = parallel.shard_batch(next(batches), run.mesh, run.batch_placement, local=rows is not None) \
          if uses_host_batches else {}
      if train_fn is None:   # Compiled ahead of the first call, so its time is known apart.
        compile_start = time.perf_counter()
        with watchdog.waiting("the train step to compile"):
          train_fn = run.train_fn.lower(state, batch, run.device_data, train_rng, step_on_device).compile()
        timings["compile_time_s"] = time.perf_counter() - compile_start
      state, metrics, step_on_device = train_fn(state, batch, run.device_data, train_rng, step_on_device)
      done = first + k
      window.push(first, metrics)
      stopped = window.stop_step(run.workload.stop_metric) if run.workload.stop_metric else None
      done = stopped or done
      bar.update(done - first)
      if cfg.train.log_every_steps == 1 and done - first > 1:
        for step, row in window.each_step(first):
          writer.write(step, {f"train/{key}": value for key, value in row.items()})
      if _crossed(done, k, cfg.train.log_every_steps) or done == run.num_steps or stopped:
        logged = window.reduce_and_reset()
        name, rate = speed.measure(done)
        logged[name] = rate
        if speed.flops and speed.peak:
          logged["mfu"] = rate * speed.flops / speed.peak
        writer.write(done, {f"train/{key}": value for key, value in logged.items()})
        bar.set_postfix(loss=f"{logged.get('loss', float('nan')):.4f}", **{name: f"{rate:.0f}"})
      if _crossed(done, k, cfg.checkpoint.every_steps) or done == run.num_steps or stopped:
        save_checkpoint(run, window, done, item())
      if _crossed(done, k, run.eval_every) or done == run.num_steps or stopped:
        window.drain()
        eval_start = time.perf_counter()
        try:
          evaluation.log_evaluations(run, state, done, writer)
          if on_eval is not None:
            on_eval(done, state, run, eval_start - loop_start - eval_seconds)
        except StopTraining:
          save_checkpoint(run, window, done, item())
          break
        finally:  # Throughput and training time leave evaluation out.
          spent = time.perf_counter() - eval_start
          speed.skip(spent)
          eval_seconds += spent
      stop = signals.stop_requested(done, sync=_crossed(done, k, cfg.train.log_every_steps))
      if stop:
        save_checkpoint(run, window, done, item())
        run.checkpointer.wait()
        raise Interrupted(stop, done)
      if stopped:
        timings["stopped_by"] = run.workload.stop_metric   # A rerun keeps the finished run.
        break
  window.drain()
  bar.close()
  return state, time.perf_counter() - loop_start - eval_seconds, done
