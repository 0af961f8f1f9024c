r"""Training-step throughput of any config: the jitted, sharded train step alone, no input pipeline.

  .venv/bin/python -m launch.benchmark_step --config=configs/cnn_fashion_mnist.py
  .venv/bin/python -m launch.benchmark_step --config=configs/resnet_fashion_mnist.py \
      --config.train.batch_size=256 --config.model.dtype=bfloat16

Prints compile time, steps/s and examples/s over --steps steps (after --warmup),
with the hardware, so the numbers can go into WORKSPACE.md as they are.
"""
import os
import tempfile
import time

import jax
from absl import app, flags
from ml_collections import config_flags

from bigmodel_jax import parallel, trainer
from launch import xla_flags

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.", lock_config=True)
_STEPS = flags.DEFINE_integer("steps", 100, "Timed steps.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed steps after compilation.")
flags.mark_flags_as_required(["config"])


def measure(config, steps: int, warmup: int) -> dict:
  with tempfile.TemporaryDirectory() as workdir:
    run, state = trainer.build_run(config, workdir)
    run.checkpointer.close()
  rows = parallel.process_slice(config.train.batch_size)
  batch = parallel.shard_batch({k: v[rows] for k, v in run.data.train_batch(0).items()}, run.mesh)
  rng = jax.device_put(jax.random.PRNGKey(0), parallel.replicated(run.mesh))
  start = time.perf_counter()
  state, metrics = run.train_fn(state, batch, rng)
  jax.block_until_ready(metrics)
  compile_seconds = time.perf_counter() - start
  for _ in range(warmup):
    state, metrics = run.train_fn(state, batch, rng)
  jax.block_until_ready(metrics)
  start = time.perf_counter()
  for _ in range(steps):
    state, metrics = run.train_fn(state, batch, rng)
  jax.block_until_ready(metrics)
  seconds = time.perf_counter() - start
  return {"compile_s": compile_seconds, "steps_per_s": steps / seconds,
          "examples_per_s": steps * config.train.batch_size / seconds}


def main(argv):
  del argv
  xla_flags.set_defaults()  # Before the first use of a device.
  config = _CONFIG.value
  result = measure(config, _STEPS.value, _WARMUP.value)
  devices = jax.devices()
  print(f"hardware: {len(devices)}x {devices[0].device_kind} ({os.cpu_count()} host cores)")
  print(f"model: {config.model.name}, batch {config.train.batch_size}, dtype {config.model.dtype}")
  print(f"compile {result['compile_s']:.1f} s | {result['steps_per_s']:.1f} steps/s | "
        f"{result['examples_per_s']:.0f} examples/s")


if __name__ == "__main__":
  app.run(main)
