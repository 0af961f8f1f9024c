r"""Training-step throughput of any config: the jitted, sharded train step alone, no input pipeline.

  .venv/bin/python -m launch.benchmark_step --config=configs/cnn_fashion_mnist.py
  .venv/bin/python -m launch.benchmark_step --config=configs/resnet_fashion_mnist.py \
      --config.train.batch_size=256 --config.model.dtype=bfloat16

Prints compile time, steps/s and the workload's units/s (examples, tokens, env steps)
over --steps dispatches (after --warmup),
with the hardware, so the numbers can go into WORKSPACE.md as they are.
"""
import os
import tempfile
import time

import jax
from absl import app, flags
from ml_collections import config_flags

from bigmodel_jax.engine import parallel, train_loop, trainer
from launch import xla_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
_STEPS = flags.DEFINE_integer("steps", 100, "Timed steps.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed steps after compilation.")
flags.mark_flags_as_required(["config"])


def measure(config, steps: int, warmup: int) -> dict:
  """Times `steps` dispatches of the run's jitted train function on one fixed batch."""
  with tempfile.TemporaryDirectory() as workdir:
    run, state = trainer.build_run(config, workdir)
    run.checkpointer.close()
  k = config.train.steps_per_dispatch
  batch = {}
  if train_loop.has_host_batches(run.data):
    batch = next(train_loop._stacked_host_batches(run.data, 0, k, k))
    batch = parallel.shard_batch(batch, run.mesh, run.batch_placement)
  rng = jax.device_put(jax.random.PRNGKey(0), parallel.replicated(run.mesh))
  step = jax.device_put(jax.numpy.zeros((), jax.numpy.int32), parallel.replicated(run.mesh))

  def dispatch(state, n):
    for _ in range(n):
      state, metrics, _ = run.train_fn(state, batch, run.device_data, rng, step)
    jax.block_until_ready(metrics)
    return state

  with parallel.mesh_context(run.mesh, config.mesh):
    start = time.perf_counter()
    state = dispatch(state, 1)
    compile_seconds = time.perf_counter() - start
    state = dispatch(state, warmup)
    start = time.perf_counter()
    dispatch(state, steps)
    seconds = time.perf_counter() - start
  unit, per_step = run.workload.throughput(config, run.data.spec)
  return {"compile_s": compile_seconds, "steps_per_s": steps * k / seconds, "unit": unit,
          "units_per_s": steps * k * per_step / seconds}


def main(argv):
  del argv
  xla_flags.set_defaults()  # Before the first use of a device.
  config = _CONFIG.value
  result = measure(config, _STEPS.value, _WARMUP.value)
  devices = jax.devices()
  print(f"hardware: {len(devices)}x {devices[0].device_kind} ({os.cpu_count()} host cores)")
  if "model" in config:
    print(f"model: {config.model.get('name')}, batch {config.train.batch_size}, dtype {config.model.get('dtype')}")
  print(f"compile {result['compile_s']:.1f} s | {result['steps_per_s']:.1f} steps/s | "
        f"{result['units_per_s']:.0f} {result['unit']}/s")


if __name__ == "__main__":
  app.run(main)
