r"""Training-step throughput of any config: the jitted, sharded train step alone, no input pipeline.

  python -m launch.benchmark step --config=configs/cnn_fashion_mnist.py
  python -m launch.benchmark step --config=configs/resnet_fashion_mnist.py \
      --config.train.batch_size=256 --config.model.dtype=bfloat16

Dispatches the run's jitted train function (`train.steps_per_dispatch` steps each) on
one fixed batch: the first call is timed alone (compilation), then --warmup untimed
calls, then --windows windows of --steps calls each. Prints compile time, steps/s and
the workload's units/s (examples, tokens, env steps), medians over the windows, with
the hardware, so the numbers can go into WORKSPACE.md as they are.
"""
import os
import statistics

from absl import flags

from launch.benchmarks import harness

_CONFIG = harness.config_flag(None, "Experiment config file")
_STEPS = flags.DEFINE_integer("steps", 100, "Timed dispatches per window.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed dispatches after compilation.")
_WINDOWS = flags.DEFINE_integer("windows", 1, "Timed windows; rates are their median.")
flags.mark_flags_as_required(["config"])


def measure(config, steps: int, warmup: int, windows: int) -> dict:
  """Compile seconds (the first dispatch) and the median rates of `windows` windows of `steps` dispatches."""
  import jax

  from bigmodel_jax.engine import parallel
  run, state, batch, rng, step = harness.prepared_step(config)

  def dispatch(n):
    nonlocal state
    for _ in range(n):
      state, metrics, _ = run.train_fn(state, batch, run.device_data, rng, step)
    jax.block_until_ready(metrics)

  with parallel.mesh_context(run.mesh, config.mesh):
    compile_s = harness.window_seconds(lambda: dispatch(1), 1)[0]
    dispatch(warmup)
    seconds = harness.window_seconds(lambda: dispatch(steps), windows)
  k = config.train.steps_per_dispatch
  unit, per_step = run.workload.throughput(config, run.data.spec)
  steps_per_s = statistics.median(steps * k / s for s in seconds)
  return {"compile_s": compile_s, "steps_per_s": steps_per_s, "unit": unit, "units_per_s": steps_per_s * per_step,
          "window_s": seconds}


def run(argv):
  del argv
  import jax
  config = harness.loaded_config(_CONFIG)
  report = harness.Report("step", config)
  devices = jax.devices()
  report.note("hardware", f"{len(devices)}x {devices[0].device_kind}",
              f"hardware: {len(devices)}x {devices[0].device_kind} ({os.cpu_count()} host cores)")
  if "model" in config:
    print(f"model: {config.model.get('name')}, batch {config.train.batch_size}, dtype {config.model.get('dtype')}")
  r = measure(config, _STEPS.value, _WARMUP.value, _WINDOWS.value)
  report.row(r, f"compile {r['compile_s']:.1f} s | {r['steps_per_s']:.1f} steps/s | "
                f"{r['units_per_s']:.0f} {r['unit']}/s")
  report.finish()
