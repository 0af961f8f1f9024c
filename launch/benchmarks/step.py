r"""Training-step throughput and memory of any config: the jitted, sharded train step alone, no input pipeline.

  python -m launch.benchmark step --config=configs/cnn_fashion_mnist.py
  python -m launch.benchmark step --config=configs/resnet_fashion_mnist.py \
      --config.train.batch_size=256 --config.model.dtype=bfloat16
  python -m launch.benchmark step --config=configs/cnn_fashion_mnist_fast.py \
      --variant=plain --variant=qat --variant=prune --variant=int8:quant.weights=int8 \
      --out=results/benchmarks/step_options.json

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
as in `--config.key=value`; a bare name is one of VARIANT_PRESETS (plain, qat, prune, dp).
"""
import ast
import copy
import os
import re
import statistics
import tempfile

from absl import flags

from launch import config_errors
from launch.benchmarks import harness

_CONFIG = harness.config_flag(None, "Experiment config file")
_STEPS = flags.DEFINE_integer("steps", 100, "Timed dispatches per window.")
_WARMUP = flags.DEFINE_integer("warmup", 5, "Untimed dispatches after compilation.")
_WINDOWS = flags.DEFINE_integer("windows", 1, "Timed windows; rates are their median.")
_VARIANTS = flags.DEFINE_multi_string(
    "variant", [], "name[:key=value,...] measured side by side, ratios against the first; a bare name is a preset: "
    "plain, qat, prune, dp.")
flags.mark_flags_as_required(["config"])

# The options of the supervised workload, each as the overrides that turn it on. dp needs a model
# without batch norm (it mixes examples): measure it on such a config (e.g. cnn_fashion_mnist_dp with
# --variant=plain:dp.clip_norm=0.0 --variant=dp).
VARIANT_PRESETS = {
    "plain": "",
    "qat": "quant.weights=int8,quant.qat=True",
    "prune": "prune.sparsity=0.8",
    "dp": "dp.clip_norm=1.0",
}
MEMORY_FIELDS = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes")


def parse_variant(text: str) -> tuple[str, dict]:
  """'name:key=value,key=value' (or a preset's name) -> (name, {dotted key: value})."""
  name, _, spec = text.partition(":")
  if not name:
    raise ValueError(f"--variant={text!r} has no name; write name:key=value,... or one of {sorted(VARIANT_PRESETS)}")
  if not spec:
    if name not in VARIANT_PRESETS:
      raise ValueError(f"--variant={text!r}: no preset {name!r}; presets are {sorted(VARIANT_PRESETS)}, "
                       "or give its overrides as name:key=value,...")
    spec = VARIANT_PRESETS[name]
  overrides = {}
  for item in filter(None, re.split(r",(?=[\w.]+=)", spec)):   # Commas inside a tuple value stay.
    key, eq, value = item.partition("=")
    if not eq or not key:
      raise ValueError(f"--variant={text!r}: {item!r} is not key=value")
    overrides[key.strip()] = _literal(value.strip())
  return name, overrides


def _literal(value: str):
  """A Python literal (number, bool, tuple) where the text is one, else the text as a string."""
  try:
    return ast.literal_eval(value)
  except (ValueError, SyntaxError):
    return value


def with_overrides(config, overrides: dict, what: str):
  """A copy of `config` with each dotted key set; a key the config lacks or a value of the wrong type is a ValueError."""
  changed = copy.deepcopy(config)
  for key, value in overrides.items():
    *parents, leaf = key.split(".")
    node = changed
    for part in parents:
      node = node.get(part) if hasattr(node, "get") else None
      if node is None:
        break
    if node is None or not hasattr(node, "keys") or leaf not in node:
      raise ValueError(f"{what}: the config has no key {key!r}")
    if isinstance(node[leaf], float) and isinstance(value, int) and not isinstance(value, bool):
      value = float(value)
    try:
      setattr(node, leaf, value)
    except TypeError as e:
      raise ValueError(f"{what}: {key}={value!r}: {e}") from None
  return changed


def one_batch(run):
  """The first dispatch's batch, placed as the trainer places it ({} when batches are made on device)."""
  from bigmodel_jax.engine import parallel, train_loop
  if not run.data.host_batches:
    return {}
  k = run.config.train.steps_per_dispatch
  batch = next(train_loop._stacked_host_batches(run.data, 0, k, k))
  return parallel.shard_batch(batch, run.mesh, run.batch_placement)


def memory_bytes(compiled) -> dict:
  """XLA's byte counts of a compiled function ({} where the backend gives none)."""
  try:
    analysis = compiled.memory_analysis()
  except Exception:   # Backends without the analysis raise rather than return None.
    return {}
  if analysis is None:
    return {}
  return {f: int(getattr(analysis, f)) for f in MEMORY_FIELDS if hasattr(analysis, f)}


def measure(config, steps: int, warmup: int, windows: int) -> dict:
  """Compile seconds, the compiled step's memory and the median rates of `windows` windows of `steps` dispatches."""
  import jax

  from bigmodel_jax.engine import parallel, trainer
  with tempfile.TemporaryDirectory() as workdir:
    run, state = trainer.build_run(config, workdir)
    run.checkpointer.close()
  batch = one_batch(run)
  rng = jax.device_put(jax.random.PRNGKey(0), parallel.replicated(run.mesh))
  step = jax.device_put(jax.numpy.zeros((), jax.numpy.int32), parallel.replicated(run.mesh))
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


def _mib(row: dict, field: str) -> str:
  return f"{row[field] / 2**20:.2f}" if field in row else "n/a"


def variant_table(rows: list) -> list[str]:
  """Markdown lines: each variant's ms/step, ratio to the first, units/s and compiled memory (MiB)."""
  base = rows[0]
  lines = ["| variant | overrides | ms/step | x first | units/s | temp MiB | x first | argument MiB | output MiB |",
           "|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    temp_ratio = (f"{r['temp_size_in_bytes'] / base['temp_size_in_bytes']:.2f}"
                  if base.get("temp_size_in_bytes") and "temp_size_in_bytes" in r else "n/a")
    overrides = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "-"
    lines.append(f"| {r['variant']} | {overrides} | {r['ms_per_step']:.2f} | {r['ms_per_step'] / base['ms_per_step']:.2f} | "
                 f"{r['units_per_s']:.0f} {r['unit']} | {_mib(r, 'temp_size_in_bytes')} | {temp_ratio} | "
                 f"{_mib(r, 'argument_size_in_bytes')} | {_mib(r, 'output_size_in_bytes')} |")
  return lines


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
                  f"{r['units_per_s']:.0f} {r['unit']}/s | temp {_mib(r, 'temp_size_in_bytes')} MiB")
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
                  f"{r['units_per_s']:.0f} {r['unit']}/s | temp {_mib(r, 'temp_size_in_bytes')} MiB")
  report.finish()
