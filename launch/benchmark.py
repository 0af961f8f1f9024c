r"""Runs one benchmark: ours beside a peer (or a published figure) on this machine.

  python -m launch.benchmark --help                   # the benchmarks, one line each
  python -m launch.benchmark ppo --help               # one benchmark: what it measures, its flags
  python -m launch.benchmark kmeans --seeds=0 --out=results/benchmarks/kmeans.json
  python -m launch.benchmark lm --config.model.positions=rotary

Every benchmark takes `--config=configs/x.py[:variant]` and `--config.a.b=value` as the
launcher does (a bad one is one `error:` line, exit status 1), prints a machine line
(CPU, cores, load average before and after), both sides' numbers and their ratio, and
with --out writes the same numbers as JSON. The code is in launch/benchmarks/: one
module per benchmark and the harness they share.
"""
import importlib
import sys

from absl import app, flags, logging

from launch import config_errors, xla_flags
from launch.benchmarks import harness

# name -> what it measures. Each is launch/benchmarks/<name>.py with a `run(argv)`; only the one
# named is imported, since each defines its own flags (several take --seeds, with other meanings).
BENCHMARKS = {
    "kmeans": "K-Means fit time and inertia on Fashion-MNIST, ours against scikit-learn's KMeans, one process",
    "lm": "GPT training tokens/s and validation loss on Shakespeare, ours against PyTorch (--torch_python)",
    "profile": "per-op profile of any --config's jitted train step (jax.profiler trace), ms per step by op",
    "ppo": "PPO on CartPole with 1 and 16 agents, compile and run timed apart, plus a machine-speed line",
    "ppo_profile": "where one PPO update's time goes: rollout, critic + GAE, epochs, minibatch step, each jitted alone",
    "processes": "one process with two devices against two processes with one device each, same config",
    "serve": "launch.serve under 1, 8 and 64 loopback clients: p50/p99 latency, images/s, with and without batching",
    "step": "the jitted train step of any --config alone: compile time, steps/s and units/s",
    "time_to_accuracy": "training seconds to 91% Fashion-MNIST test accuracy, ours against the source's Keras CNN",
}
HELP_FLAGS = ("--help", "-h", "-?", "--helpshort", "--helpfull")


def usage() -> str:
  width = max(map(len, BENCHMARKS))
  lines = ["usage: python -m launch.benchmark <name> [--config=...] [--config.a.b=value] [flags]", "",
           "benchmarks:"]
  lines += [f"  {name:<{width}}  {what}" for name, what in BENCHMARKS.items()]
  lines += ["", "python -m launch.benchmark <name> --help: what it measures and its flags."]
  return "\n".join(lines)


def benchmark_help(name: str, module) -> str:
  """The benchmark's docstring and flags (absl's --help would list only this file's, which are none)."""
  own = [flags.FLAGS.module_help(m) for m in (module, sys.modules["launch.benchmarks.harness"])]
  return "\n".join([module.__doc__.strip(), "", f"flags of {name}:", *own])


def _main_of(module):
  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
      logging.set_verbosity(logging.WARNING)   # Orbax logs every checkpoint at INFO.
    module.run(argv)
  return main


def main(argv=None) -> None:
  argv = sys.argv if argv is None else argv
  if len(argv) < 2 or argv[1] in HELP_FLAGS:
    print(usage())
    sys.exit(0 if len(argv) > 1 else 1)
  name, rest = argv[1], argv[2:]
  if name not in BENCHMARKS:
    config_errors.fail(f"no benchmark {name!r}; choose one of {', '.join(BENCHMARKS)} (--help lists them)")
  xla_flags.set_defaults()   # Before JAX starts its backends.
  module = importlib.import_module(f"launch.benchmarks.{name}")
  if any(a in HELP_FLAGS for a in rest):
    print(benchmark_help(name, module))
    sys.exit(0)
  # ml_collections reads the --config overrides from sys.argv itself, so the command line the
  # flags are parsed from is sys.argv too.
  sys.argv = harness.command_line([f"python -m launch.benchmark {name}", *rest])
  app.run(_main_of(module), argv=sys.argv, flags_parser=config_errors.parse_or_fail)


if __name__ == "__main__":
  main()
