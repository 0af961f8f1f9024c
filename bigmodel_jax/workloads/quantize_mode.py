"""--mode=quantize for any workload whose model runs through `engine.quantize.wrap_model`: the
trained weights to int8 (qwix PTQ, per-channel scales), written as a run workdir of its own.

The new workdir holds a checkpoint with the int8 weights and their scales and a
summary.json. Every mode reads it with the same config and `--config.quant.weights=int8`
(plus `--config.quant.activations=int8` if so written): eval, predict / sample, export.
A workload registers `quantize_mode(Quantizable(...))`, supplying only how its model is
built and initialised and where its state keeps the weights.
"""
import dataclasses
import functools
import os
import time
from typing import Callable

import jax
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.engine import evaluation, files, parallel, quantize
from bigmodel_jax.engine.checkpoints import Checkpointer
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads.base import Mode, ModeFlag, checkpoint_meta


def weights_of(state):
  return state.params


def replace_weights(fresh, trained, qparams):
  """The quantised state: the fresh int8-shaped state with the trained run's step and int8 weights."""
  return fresh.replace(step=trained.step, params=qparams)


@dataclasses.dataclass(frozen=True)
class Quantizable:
  """What differs between workloads in --mode=quantize."""
  model: Callable                 # (config, spec) -> the model as the config runs it (wrap_model applied).
  init_inputs: Callable           # (spec) -> (args, kwargs) that model.init is called with.
  float_weights: Callable = weights_of        # state -> the float params evaluated (the EMA where kept).
  with_weights: Callable = replace_weights    # (fresh, trained, qparams) -> the quantised state.


FLAGS = {
    "output": ModeFlag(str, "workdir of the quantised run, new or empty (default: <workdir>_int8)", v.STRING,
                       default=""),
    "activations": ModeFlag(str, "int8: dense layers' inputs quantised too", v.one_of("float", "int8"),
                            default="float"),
}


def quantize_mode(q: Quantizable) -> Mode:
  """The Mode a workload registers as "quantize"."""
  return Mode(functools.partial(quantize_run, q=q),
              "int8 weights (qwix PTQ, per-channel scales) of the trained model, evaluated against float "
              "(timed) and written as a new run workdir", FLAGS)


def quantized_config(config, activations: str):
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.quant.weights, config.quant.activations, config.quant.qat = "int8", activations, False
  return config


def quantized_state(run, state, qconfig, q: Quantizable):
  spec = run.data.spec
  args, kwargs = q.init_inputs(spec)
  fresh = run.workload.init_state(jax.random.PRNGKey(0), {}, config=qconfig, spec=spec)
  float_params = jax.tree.map(jnp.asarray, jax.device_get(q.float_weights(state)))
  qparams = quantize.quantize_params(float_params, q.model(qconfig, spec), *args, **kwargs)
  return jax.device_put(q.with_weights(fresh, state, qparams), parallel.replicated(run.mesh))


def timed_eval(run, state, split: str):
  """Metrics of a split and the seconds of a second, compiled pass (CPU inference time)."""
  evaluation.evaluate(run, state, split)
  start = time.perf_counter()
  metrics, _ = evaluation.evaluate(run, state, split)
  return metrics, time.perf_counter() - start


def check_output(output: str) -> None:
  """Before anything is computed: the quantised run gets a workdir of its own."""
  if os.path.exists(output) and (not os.path.isdir(output) or os.listdir(output)):
    raise ConfigError(f"--output={output!r} exists and is not an empty folder; the quantised run needs "
                      f"a new workdir")


def quantize_run(run, state, options, *, q: Quantizable) -> dict:
  output = options["output"] or run.workdir.rstrip("/") + "_int8"
  check_output(output)
  qconfig = quantized_config(run.config, options["activations"])
  qstate = quantized_state(run, state, qconfig, q)
  qeval = jax.jit(functools.partial(run.workload.eval_step, config=qconfig, spec=run.data.spec))
  qrun = dataclasses.replace(run, config=qconfig, eval_fn=qeval, workdir=output)
  split = run.workload.final_split
  float_metrics, float_s = timed_eval(run, state, split)
  int8_metrics, int8_s = timed_eval(qrun, qstate, split)
  step = int(jax.device_get(state.step))
  if run.is_writer:
    write_run(qrun, qstate, step, split, int8_metrics)
  return {"output": output, "split": split, "float": float_metrics, "int8": int8_metrics,
          "float_eval_s": float_s, "int8_eval_s": int8_s,
          "float_param_bytes": quantize.tree_bytes(q.float_weights(state)),
          "int8_param_bytes": quantize.tree_bytes(qstate.params), "activations": options["activations"]}


def write_run(qrun, qstate, step: int, split: str, metrics: dict) -> None:
  """The checkpoint, and a summary.json whose "test" holds the final split's metrics like a trained run's."""
  os.makedirs(qrun.workdir, exist_ok=True)
  checkpointer = Checkpointer(qrun.workdir, keep=1, async_save=False)
  rng = jax.random.fold_in(jax.random.PRNGKey(qrun.config.seed), 1)
  checkpointer.save(step, {"train_state": qstate, "rng": rng}, checkpoint_meta(qrun.config, qrun.workload, qrun.data))
  checkpointer.wait()
  checkpointer.close()
  files.write_json(os.path.join(qrun.workdir, "summary.json"),
                   {"step": step, "final_split": split, "test": metrics, "quantized_from": qrun.config_source,
                    "config": qrun.config.to_dict()}, indent=2, default=str)
