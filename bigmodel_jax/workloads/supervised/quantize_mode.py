"""--mode=quantize: a trained classifier's weights to int8 (qwix PTQ), written as a run of its own.

The new workdir holds a checkpoint with the int8 weights and per-channel scales and a
summary.json; `--mode=eval` reads it with the same config and
`--config.quant.weights=int8` (plus `--config.quant.activations=int8` if so written).
"""
import dataclasses
import functools
import os
import time

import jax
import jax.numpy as jnp

from bigmodel_jax.engine import evaluation, files, parallel, quantize
from bigmodel_jax.engine.checkpoints import Checkpointer
from bigmodel_jax.workloads.base import checkpoint_meta
from bigmodel_jax.workloads.supervised import explain


def quantized_config(config, activations: str):
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.quant.weights, config.quant.activations, config.quant.qat = "int8", activations, False
  return config


def timed_eval(run, state, split: str):
  """Metrics of a split and the seconds of a second, compiled pass (CPU inference time)."""
  evaluation.evaluate(run, state, split)
  start = time.perf_counter()
  metrics, _ = evaluation.evaluate(run, state, split)
  return metrics, time.perf_counter() - start


def quantized_state(run, state, qconfig):
  spec = run.data.spec
  dummy = jnp.zeros((1,) + tuple(spec.input_shape), jnp.float32)
  fresh = run.workload.init_state(jax.random.PRNGKey(0), {}, config=qconfig, spec=spec)
  qparams = quantize.quantize_params(jax.tree.map(jnp.asarray, jax.device_get(state.eval_params())), explain.classifier_model(qconfig, spec),
                                     dummy, train=False)
  qstate = fresh.replace(step=state.step, params=qparams, model_state=state.model_state,
                         ema_params=qparams if fresh.ema_params is not None else None)
  return jax.device_put(qstate, parallel.replicated(run.mesh))


def quantize_run(run, state, options) -> dict:
  output = options["output"] or run.workdir.rstrip("/") + "_int8"
  qconfig = quantized_config(run.config, options["activations"])
  qstate = quantized_state(run, state, qconfig)
  qeval = jax.jit(functools.partial(run.workload.eval_step, config=qconfig, spec=run.data.spec))
  qrun = dataclasses.replace(run, config=qconfig, eval_fn=qeval, workdir=output)
  float_metrics, float_s = timed_eval(run, state, "test")
  int8_metrics, int8_s = timed_eval(qrun, qstate, "test")
  step = int(jax.device_get(state.step))
  if run.is_writer:
    _write_run(qrun, qstate, step, int8_metrics)
  return {"output": output, "float": float_metrics, "int8": int8_metrics,
          "float_eval_s": float_s, "int8_eval_s": int8_s,
          "float_param_bytes": quantize.tree_bytes(state.eval_params()),
          "int8_param_bytes": quantize.tree_bytes(qstate.params), "activations": options["activations"]}


def _write_run(qrun, qstate, step: int, metrics: dict) -> None:
  os.makedirs(qrun.workdir, exist_ok=True)
  checkpointer = Checkpointer(qrun.workdir, keep=1, async_save=False)
  rng = jax.random.fold_in(jax.random.PRNGKey(qrun.config.seed), 1)
  checkpointer.save(step, {"train_state": qstate, "rng": rng},
                    checkpoint_meta(qrun.config, qrun.workload, qrun.data))
  checkpointer.wait()
  checkpointer.close()
  files.write_json(os.path.join(qrun.workdir, "summary.json"),
                   {"step": step, "final_split": "test", "test": metrics, "quantized_from": qrun.config_source,
                    "config": qrun.config.to_dict()}, indent=2, default=str)
