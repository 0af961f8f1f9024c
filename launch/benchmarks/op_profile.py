"""The profile benchmark's trace reading, in a module that defines no flags, so tests and other tools can import it."""
import collections
import glob
import os
import re

# Names of the trace's own bookkeeping events, not ops of the module.
NOT_OPS = re.compile(r"^(PjitFunction|ThunkExecutor|TfrtCpu|Execute|XlaModule|PjRt|\$)|::")
# Ops that hold other ops (a scan's loop): listed, but left out of the sum the shares are of.
CONTAINERS = ("while", "conditional", "call")


def op_kind(name: str) -> str:
  """`fusion.123` -> `fusion`, `dot.4` -> `dot`, `loop_add_fusion.2` -> `loop_add_fusion`."""
  return re.sub(r"(\.\d+)+$", "", name.split(":")[0])


def op_times(trace_dir: str) -> tuple:
  """(seconds per op name, executions per op name), summed over the trace's threads, bookkeeping left out."""
  import jax
  paths = glob.glob(os.path.join(trace_dir, "**", "*.xplane.pb"), recursive=True)
  totals, calls = collections.Counter(), collections.Counter()
  for path in paths:
    for plane in jax.profiler.ProfileData.from_file(path).planes:
      for line in plane.lines:
        for event in line.events:
          if not NOT_OPS.search(event.name):
            totals[event.name] += event.duration_ns * 1e-9
            calls[event.name] += 1
  return totals, calls
