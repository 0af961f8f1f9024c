"""Evaluation and the final report: eval passes over a split, validation logging, curves, summary."""
import datetime
import functools
import os
import platform

import jax
import numpy as np
from jax.experimental import multihost_utils

from bigmodel_jax.engine import parallel, plots
from bigmodel_jax.engine.metric_writer import read_metrics


def make_eval_fn(workload, config, spec, mesh, shardings):
  """Jits `eval_step(state, batch, rng)`; outputs keep whatever layout XLA gives them."""
  eval_fn = functools.partial(workload.eval_step, config=config, spec=spec)
  return jax.jit(eval_fn, in_shardings=(shardings, None, parallel.replicated(mesh)))


def to_host(tree):
  """Fetches (possibly multi-host) sharded arrays to NumPy on every host."""
  if jax.process_count() > 1:
    return multihost_utils.process_allgather(tree, tiled=True)
  return jax.device_get(tree)


def eval_rng(config):
  """The same key at every evaluation, so evaluations of different steps are comparable."""
  return jax.random.fold_in(jax.random.PRNGKey(config.seed), 2)


def evaluate_split(run, state, split: str) -> dict:
  """Runs `eval_step` over a whole split; returns the per-row outputs with padding removed.

  Batch i gets the key fold_in(eval_rng, i). Every process runs it (the jitted call is
  collective); each gets all the outputs.
  """
  base_rng, chunks = eval_rng(run.config), []
  for index, batch in enumerate(run.data.eval_batches(split, run.config.eval.batch_size)):
    mask = batch.pop("mask", None)
    arrays = parallel.shard_batch(batch, run.mesh)
    outputs = to_host(run.eval_fn(state, arrays, jax.random.fold_in(base_rng, index)))
    chunks.append({k: np.asarray(v)[mask] if mask is not None else np.asarray(v) for k, v in outputs.items()})
  if not chunks:
    return {}
  return {k: np.concatenate([np.atleast_1d(c[k]) for c in chunks]) for k in chunks[0]}


def evaluate(run, state, split: str) -> tuple[dict, dict]:
  """(scalar metrics, per-row outputs) of one split."""
  outputs = evaluate_split(run, state, split)
  return run.workload.summarize(outputs, config=run.config, data=run.data), outputs


def log_evaluations(run, state, step: int, writer) -> None:
  """The workload's evaluation splits during training: the first as val/, others as val_<split>/."""
  for i, split in enumerate(run.workload.eval_splits):
    metrics, _ = evaluate(run, state, split)
    prefix = "val" if i == 0 else f"val_{split}"
    writer.write(step, {f"{prefix}/{k}": v for k, v in metrics.items()})
  if run.workload.on_evaluation is not None:
    run.workload.on_evaluation(run, state, step, writer)


def plot_training_curves(run) -> None:
  """Train metrics with a val/ twin, and the workload's own curve metrics, to training_curves.png."""
  history = read_metrics(run.workdir)
  keys = {k for row in history for k in row}
  train = {k.split("/", 1)[1] for k in keys if k.startswith("train/")}
  names = sorted(n for n in train if f"val/{n}" in keys)
  names += [n for n in run.workload.curve_metrics if n in train and n not in names]
  if names:
    plots.plot_curves(history, names, os.path.join(run.workdir, "training_curves.png"))


def hardware_description(mesh) -> str:
  """What the run ran on, e.g. '8x NVIDIA H100' or '2-core CPU (x86_64)'."""
  devices = mesh.devices.flatten()
  if devices[0].platform == "cpu":
    return f"{os.cpu_count()}-core CPU ({platform.machine()})"
  return f"{len(devices)}x {devices[0].device_kind}"


def final_report(run, state, step: int, timings: dict) -> dict:
  """Final-split metrics, the workload's report (plots, samples) and training curves, as the run summary."""
  metrics, outputs = evaluate(run, state, run.workload.final_split)
  summary = {"step": step, "final_split": run.workload.final_split, "test": metrics}
  report = run.workload.report(run, state, outputs)
  summary.update(report.summary)
  metrics.update(report.metrics)
  if report.details:
    summary["test_details"] = report.details
  if run.is_writer:
    plot_training_curves(run)
  devices = run.mesh.devices.flatten()
  summary.update(timings, devices=len(devices), device_kind=devices[0].device_kind,
                 hardware=hardware_description(run.mesh), date=datetime.date.today().isoformat(),
                 processes=jax.process_count(), config_source=run.config_source,
                 config=run.config.to_dict())
  return summary
