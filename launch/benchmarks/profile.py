r"""Per-op profile of any config's jitted train step: where one step's time goes, op by op.

  python -m launch.benchmark profile --config=configs/lm_shakespeare_char.py:bench
  python -m launch.benchmark profile --config=configs/cnn_fashion_mnist.py --top=15

Builds the run as the trainer does, compiles and warms its train function (the
`step` benchmark's dispatch, `train.steps_per_dispatch` steps per call, one fixed
batch), then traces --dispatches calls with `jax.profiler` and reads the trace back
in the same process. Each op the runtime executed (on XLA:CPU a thunk: a fusion, a
dot, a copy, a while loop's body) is summed by name, grouped by its kind (the name
without its numeric suffix), and printed as milliseconds per step and share of the
traced time. The compiled module's op counts (fusions, dots, copies...) are printed
beside, since on a CPU many tiny ops cost their dispatch more than their FLOPs.
"""
import collections
import tempfile

from absl import flags

from launch.benchmarks import harness
from launch.benchmarks.op_profile import CONTAINERS, op_kind, op_times

_CONFIG = harness.config_flag(None, "Experiment config file")
_DISPATCHES = flags.DEFINE_integer("dispatches", 10, "Traced calls of the train function.")
_TOP = flags.DEFINE_integer("top", 20, "Ops printed, longest first.")
flags.mark_flags_as_required(["config"])

def traced_ops(config, dispatches: int) -> tuple:
  """(seconds and executions per op over the traced dispatches, steps traced, wall seconds traced)."""
  import jax

  from bigmodel_jax.engine import parallel
  run, state, batch, rng, step_ = harness.prepared_step(config)

  def dispatch(n):
    nonlocal state
    for _ in range(n):
      state, metrics, _ = run.train_fn(state, batch, run.device_data, rng, step_)
    jax.block_until_ready(metrics)

  with parallel.mesh_context(run.mesh, config.mesh):
    dispatch(3)
    with tempfile.TemporaryDirectory() as trace_dir:
      with jax.profiler.trace(trace_dir), harness.Stopwatch() as watch:
        dispatch(dispatches)
      totals, calls = op_times(trace_dir)
  return totals, calls, dispatches * config.train.steps_per_dispatch, watch.seconds


def run(argv):
  del argv
  config = harness.loaded_config(_CONFIG)
  report = harness.Report("profile", config)
  totals, calls, steps, wall = traced_ops(config, _DISPATCHES.value)
  by_kind = collections.Counter()
  for name, seconds in totals.items():
    by_kind[op_kind(name)] += seconds
  leaves = {k: s for k, s in by_kind.items() if k not in CONTAINERS}
  whole = sum(leaves.values()) or 1.0
  ops_per_step = sum(n for name, n in calls.items() if op_kind(name) not in CONTAINERS) / steps
  report.note("per_step", {"wall_ms": 1e3 * wall / steps, "ops_ms": 1e3 * whole / steps, "ops": ops_per_step},
              f"{steps} steps traced: {1e3 * wall / steps:.2f} ms per step (wall, tracing on); ops sum to "
              f"{1e3 * whole / steps:.2f} ms; {ops_per_step:.0f} ops executed per step")
  for name, seconds in totals.most_common(_TOP.value):
    report.row({"op": name, "ms_per_step": 1e3 * seconds / steps, "calls_per_step": calls[name] / steps},
               f"  {1e3 * seconds / steps:8.3f} ms  {calls[name] / steps:6.1f}x  {name}")
  print("by kind (share of the ops' sum; loops hold the others and are left out of it):")
  for kind, seconds in by_kind.most_common(_TOP.value):
    share = f"{100 * seconds / whole:5.1f}%" if kind in leaves else "  loop"
    report.note(f"kind/{kind}", 1e3 * seconds / steps, f"  {1e3 * seconds / steps:8.3f} ms  {share}  {kind}")
  report.finish()
