"""What every benchmark shares: its config, its timing, the machine line and the report.

Config: `--config=configs/x.py[:variant]` and `--config.a.b=value`, parsed as `launch/main.py`
parses them (ml_collections' config flag, locked); a bad one is one `error:` line.
Timing: compilation is timed apart from the run (ahead of it, or as the first call);
rates are medians of fixed windows of steps after compilation; `Stopwatch` gives the wall
and CPU seconds of a block. Report: the machine (CPU, cores, load average before and
after), each side's numbers and the ratio of the two, printed and, with --out, written
as one JSON file.
"""
import datetime
import json
import os
import platform
import statistics
import sys
import tempfile
import time

from absl import flags
from ml_collections import config_flags

from launch import config_errors

_OUT = flags.DEFINE_string("out", None, "Also write the numbers as JSON to this file "
                           "(results/benchmarks/<benchmark>.json: `launch.reproduce` tables them).")
_DEFAULT_CONFIG = {}   # The benchmark's default --config, put on its command line by `command_line`.


def config_flag(default, help_string: str):
  """The benchmark's --config (path[:variant]); its keys are overridden with --config.a.b=value.

  The flag itself has no default: ml_collections would parse a default file, and the
  overrides with it, as the flag is defined, outside the parsing that turns a bad one
  into one `error:` line. `command_line` puts `--config=<default>` first instead.
  """
  if default:
    _DEFAULT_CONFIG["path"] = default
  shown = f"; default {default}" if default else ""
  return config_flags.DEFINE_config_file("config", None, f"{help_string} (path[:variant]{shown}; override a "
                                         "key with --config.a.b=value).", lock_config=True)


def command_line(argv: list) -> list:
  """argv with `--config=<the benchmark's default>` first when it names no config (overrides must follow it)."""
  default = _DEFAULT_CONFIG.get("path")
  if default is None or any(a == "--config" or a.startswith("--config=") for a in argv):
    return argv
  return [argv[0], f"--config={default}", *argv[1:]]


def repeats_flag():
  """--repeats of a benchmark with a peer: rounds in which the two sides take turns."""
  return flags.DEFINE_integer("repeats", 1, "Rounds of both sides, taking turns (noisy machines).")


def loaded_config(holder):
  """The config of `holder` with its overrides; a config file that fails is one `error:` line."""
  return config_errors.loaded_config(holder, sys.argv)


def config_arguments() -> list:
  """--config and its overrides as parsed, as arguments of another launcher (e.g. `launch.main`)."""
  flag = flags.FLAGS["config"]
  overrides = config_flags.get_override_values(flag)
  return [f"--config={config_flags.get_config_filename(flag)}", *(f"--config.{k}={v}" for k, v in overrides.items())]


class Stopwatch:
  """Wall and CPU seconds (this process's) of a `with` block; wait for the device's results inside it."""

  def __enter__(self):
    self.seconds = self.cpu_seconds = 0.0
    self._wall, self._cpu = time.perf_counter(), time.process_time()
    return self

  def __exit__(self, *exc_info):
    self.seconds = time.perf_counter() - self._wall
    self.cpu_seconds = time.process_time() - self._cpu


def compile_ahead(jitted, *args):
  """`jitted` compiled for `args`, and the seconds that took, kept apart from the run's."""
  with Stopwatch() as watch:
    compiled = jitted.lower(*args).compile()
  return compiled, watch.seconds


def fixed_batch(run):
  """The first dispatch's batch, placed as the trainer places it ({} when batches are made on device)."""
  from bigmodel_jax.engine import parallel, train_loop
  if not run.data.host_batches:
    return {}
  k = run.config.train.steps_per_dispatch
  batch = next(train_loop._stacked_host_batches(run.data, 0, k, k))
  return parallel.shard_batch(batch, run.mesh, run.batch_placement)


def prepared_step(config) -> tuple:
  """(run, state, batch, rng, step): the built run and the arguments of its train function."""
  import jax

  from bigmodel_jax.engine import parallel, trainer
  with tempfile.TemporaryDirectory() as workdir:
    run, state = trainer.build_run(config, workdir)
    run.checkpointer.close()
  rng = jax.device_put(jax.random.PRNGKey(0), parallel.replicated(run.mesh))
  step = jax.device_put(jax.numpy.zeros((), jax.numpy.int32), parallel.replicated(run.mesh))
  return run, state, fixed_batch(run), rng, step


def window_seconds(run_window, windows: int) -> list[float]:
  """Seconds of each of `windows` calls of `run_window()`, which waits for its own steps to finish."""
  seconds = []
  for _ in range(windows):
    with Stopwatch() as watch:
      run_window()
    seconds.append(watch.seconds)
  return seconds


def steady_median(rates: list) -> float:
  """The median of per-window rates after the first, which holds compilation (all of them if one)."""
  return statistics.median(rates[1:] or rates)


def logged_rates(workdir: str, key: str) -> list[float]:
  """The trainer's rate `key` (e.g. train/tokens_per_sec) of each log window, from its metrics.jsonl."""
  from bigmodel_jax.engine.metric_writer import read_metrics
  return [row[key] for row in read_metrics(workdir) if key in row]


def take_turns(sides: dict, repeats: int):
  """Yields (round, name, result) of `repeats` rounds in which each side's measure runs once, in
  turn, so that a change in the machine's load falls on every side."""
  for round_ in range(repeats):
    for name, measure in sides.items():
      yield round_, name, measure()


def cpu_model() -> str:
  try:
    with open("/proc/cpuinfo") as f:
      for line in f:
        if line.startswith("model name"):
          return line.split(":", 1)[1].strip()
  except OSError:   # Not Linux.
    pass
  return platform.processor() or platform.machine()


def load_average() -> float:
  """The 1-minute load average: other jobs on the machine slow every side."""
  return os.getloadavg()[0]


def own_flags(benchmark: str) -> dict:
  """The values of the benchmark's own flags and the harness's (not the config and its overrides)."""
  modules = [f"launch.benchmarks.{benchmark}", __name__]
  found = [f for m in modules if m in sys.modules for f in flags.FLAGS.get_flags_for_module(sys.modules[m])]
  return {f.name: f.value for f in found if not f.name.startswith("config")}


def speedup(first: float, second: float, lower_is_better: bool) -> float:
  """How many times as fast the first side is as the second."""
  return second / first if lower_is_better else first / second


def _number(value: float) -> str:
  return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.4g}"


class Report:
  """The benchmark's printed lines and, with --out, the same numbers as one JSON file: the
  machine, the flags, the config, one row per measurement and the comparisons of the sides."""

  def __init__(self, benchmark: str, config=None):
    self.record = {"benchmark": benchmark, "command": " ".join(sys.argv),
                   "date": datetime.datetime.now().isoformat(timespec="seconds"),
                   "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "load_before": load_average()},
                   "settings": own_flags(benchmark),
                   "config": json.loads(config.to_json_best_effort()) if config is not None else None,
                   "rows": [], "comparisons": [], "summary": {}}
    m = self.record["machine"]
    print(f"machine: {m['cpu']}, {m['cores']} cores, load average {m['load_before']:.1f}", flush=True)

  def row(self, numbers: dict, line: str = "") -> None:
    """One measurement (a seed, a side, a round), and its printed line if any."""
    self.record["rows"].append(numbers)
    if line:
      print(line, flush=True)

  def note(self, key: str, value, line: str = "") -> None:
    """A number of the run as a whole (a median, a version, a reference figure)."""
    self.record["summary"][key] = value
    if line:
      print(line, flush=True)

  def compare(self, what: str, first: tuple, second: tuple, unit: str, lower_is_better: bool,
              at_least: bool = False) -> float:
    """Prints both sides of `what` ((name, value) each) and how many times as fast the first is;
    `at_least` when the second side's value is only a bound (e.g. it never reached a target)."""
    (a, va), (b, vb) = first, second
    ratio = speedup(va, vb, lower_is_better)
    bound = ">= " if at_least else ""
    print(f"{what}: {a} {_number(va)} {unit}, {b} {_number(vb)} {unit} -> {a} {bound}{ratio:.2f}x as fast",
          flush=True)
    self.record["comparisons"].append({"what": what, "unit": unit, "lower_is_better": lower_is_better,
                                       "sides": {a: va, b: vb}, "speedup": ratio, "at_least": at_least})
    return ratio

  def finish(self) -> dict:
    """Prints the load average after the run and writes the JSON file if --out names one."""
    m = self.record["machine"]
    m["load_after"] = load_average()
    if "jax" in sys.modules:
      m["jax"] = sys.modules["jax"].__version__
    print(f"load average {m['load_after']:.1f} after (before {m['load_before']:.1f})", flush=True)
    if _OUT.value:
      write_json(_OUT.value, self.record)
    return self.record


def write_json(path: str, record: dict) -> None:
  os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
  with open(path, "w") as f:
    json.dump(record, f, indent=2, default=str)
    f.write("\n")
