r"""Training-step throughput and memory of any config: the jitted, sharded train step alone, no input pipeline.

  python -m launch.benchmark step --config=configs/cnn_fashion_mnist.py
  python -m launch.benchmark step --config=configs/resnet_fashion_mnist.py \
      --config.train.batch_size=256 --config.model.dtype=bfloat16
  python -m launch.benchmark step --config=configs/cnn_fashion_mnist_fast.py \
      --variant=plain --variant=qat --variant=prune --variant=plain_nobn:model.batch_norm=False \
      --variant=dp:model.batch_norm=False,dp.clip_norm=1.0 --out=results/benchmarks/step_options.json

Dispatches the run's jitted train function (`train.steps_per_dispatch` steps each) on
one fixed batch: the first call is timed alone (compilation), then --warmup untimed
calls, then --windows windows of --steps calls each. Prints compile time, steps/s and
the workload's units/s (examples, tokens, env steps), medians over the windows, with
the hardware, so the numbers can go into WORKSPACE.md as they are.

Memory is XLA's own account of the compiled train function (`memory_analysis()`): the
bytes of its arguments (state, batch), outputs and temporaries; what a variant adds
shows in the temporaries (per-example gradients, fake-quantised copies, masks).

--variant (repeatable) measures several variants of the config in one process, one
after another, and tables them against the first: `name:key=value,key=value` with keys
as in `--config.key=value`; a bare name is one of VARIANT_PRESETS in
launch/benchmarks/variants.py (plain, qat, prune, dp).
"""
import os
import statistics

from absl import flags

from launch import config_errors
from launch.benchmarks import harness
from launch.benchmarks.variants import memory_bytes, mib, parse_variant, variant_table, with_overrides

_CONFIG = harness.config_flag(None, "Experiment config file")
_STEPS = flags.DEFINE_integer("steps", 100, "Timed dispatches per window.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed dispatches after compilation.")
_WINDOWS = flags.DEFINE_integer("windows", 1, "Timed windows; rates are their median.")
_VARIANTS = flags.DEFINE_multi_string(
    "variant", [], "name[:key=value,...] measured side by side, ratios against the first; a bare name is a preset: "
    "plain, qat, prune, dp.")
flags.mark_flags_as_required(["config"])


def measure(config, steps: int, warmup: int, windows: int) -> dict:
  """Compile seconds, the compiled step's memory and the median rates of `windows` windows of `steps` dispatches."""
  import jax

  from bigmodel_jax.engine import parallel
  run, state, batch, rng, step = harness.prepared_step(config)
  train_fn = None

  def dispatch(n):
    nonlocal state
    for _ in range(n):
      state, metrics, _ = train_fn(state, batch, run.device_data, rng, step)
    jax.block_until_ready(metrics)

  with parallel.mesh_context(run.mesh, config.mesh):
    with harness.Stopwatch() as watch:
      train_fn = run.train_fn.lower(state, batch, run.device_data, rng, step).compile()
    compile_s = watch.seconds
    dispatch(warmup)
    seconds = harness.window_seconds(lambda: dispatch(steps), windows)
  k = config.train.steps_per_dispatch
  unit, per_step = run.workload.throughput(config, run.data.spec)
  steps_per_s = statistics.median(steps * k / s for s in seconds)
  return {"compile_s": compile_s, "steps_per_s": steps_per_s, "ms_per_step": 1000.0 / steps_per_s, "unit": unit,
          "units_per_s": steps_per_s * per_step, "window_s": seconds, **memory_bytes(train_fn)}


def parsed_variants(config) -> list:
  """(name, overrides, config) of each --variant; a bad one is one `error:` line naming the flag."""
  out = []
  for text in _VARIANTS.value:
    try:
      name, overrides = parse_variant(text)
      out.append((name, overrides, with_overrides(config, overrides, f"--variant={text}")))
    except ValueError as e:
      config_errors.fail(str(e))
  names = [n for n, _, _ in out]
  if len(set(names)) != len(names):
    config_errors.fail(f"--variant names repeat: {names}; give each its own name")
  return out


def measure_or_fail(config, what: str) -> dict:
  from bigmodel_jax.errors import UserError
  try:
    return measure(config, _STEPS.value, _WARMUP.value, _WINDOWS.value)
  except UserError as e:
    config_errors.fail(f"{what}: {e}")


def run_variants(report, variants: list) -> None:
  rows = []
  for name, overrides, config in variants:
    r = {"variant": name, "overrides": overrides, **measure_or_fail(config, f"--variant={name}")}
    rows.append(r)
    report.row(r, f"{name}: compile {r['compile_s']:.1f} s | {r['ms_per_step']:.2f} ms/step | "
                  f"{r['units_per_s']:.0f} {r['unit']}/s | temp {mib(r, 'temp_size_in_bytes')} MiB")
  first = rows[0]
  for r in rows[1:]:
    report.compare(f"step time, {r['variant']} against {first['variant']}", (r["variant"], r["ms_per_step"]),
                   (first["variant"], first["ms_per_step"]), "ms/step", lower_is_better=True)
  print("\n".join(variant_table(rows)), flush=True)


def run(argv):
  del argv
  import jax
  config = harness.loaded_config(_CONFIG)
  variants = parsed_variants(config)
  report = harness.Report("step", config)
  devices = jax.devices()
  report.note("hardware", f"{len(devices)}x {devices[0].device_kind}",
              f"hardware: {len(devices)}x {devices[0].device_kind} ({os.cpu_count()} host cores)")
  if "model" in config:
    print(f"model: {config.model.get('name')}, batch {config.train.batch_size}, dtype {config.model.get('dtype')}")
  if variants:
    run_variants(report, variants)
  else:
    r = measure_or_fail(config, "--config")
    report.row(r, f"compile {r['compile_s']:.1f} s | {r['steps_per_s']:.1f} steps/s | "
                  f"{r['units_per_s']:.0f} {r['unit']}/s | temp {mib(r, 'temp_size_in_bytes')} MiB")
  report.finish()
