r"""Trains, evaluates or runs another mode of one experiment.

  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn
  python -m launch.main --config=configs/cnn_fashion_mnist.py:tiny --workdir=runs/tiny \
      --config.optimizer.learning_rate=3e-4
  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn --mode=eval

Run again with the same --workdir to resume from its latest checkpoint. `--mode`
is train, eval, or a mode of the config's workload (e.g. sample, predict); each
workload declares its modes and their flags, and `--config=... --mode=<mode> --help`
lists them. For a multi-process launch (several hosts, or one process per GPU) add
--distributed.

Exit status: 0 done (or stopped by SIGTERM after saving a checkpoint: rerun to
resume), 1 an error (one `error:` line; --verbosity=1 or BIGMODEL_TRACEBACK=1 show the
traceback), 130 stopped by Ctrl-C after saving a checkpoint.
"""
import logging as std_logging
import os
import signal
import sys
import traceback

from bigmodel_jax.errors import STOP_EXIT_STATUS


def _stop_during_start_up(signum, frame):
  del frame
  name = signal.Signals(signum).name
  print(f"stopped: {name} during start-up; nothing was written", file=sys.stderr, flush=True)
  os._exit(STOP_EXIT_STATUS[name])   # Not an exception: it could surface inside a native library's import.


if __name__ == "__main__":   # The launcher itself, not a test importing it.
  # Until the run takes them over: a stop while the libraries load is one line and its exit status.
  for _signal in (signal.SIGTERM, signal.SIGINT):
    signal.signal(_signal, _stop_during_start_up)

import jax  # noqa: E402
from absl import app, flags, logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

from bigmodel_jax.engine import distributed, host  # noqa: E402
from bigmodel_jax.engine.trainer import Interrupted, describe_mode, train_and_evaluate  # noqa: E402
from bigmodel_jax.errors import UserError  # noqa: E402
from bigmodel_jax.workloads import WORKLOADS  # noqa: E402
from launch import config_errors, xla_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (path[:variant]).",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics, plots and summary.json.")
_MODE = flags.DEFINE_string("mode", "train", "train (resumes if possible), eval, or a mode of the workload.")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Join a multi-process job (jax.distributed) first.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "--distributed: process 0's host:port "
                                   "(else JAX_COORDINATOR_ADDRESS, else auto-detected).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "--distributed: processes in the job.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "--distributed: this process's number, from 0.")
_DISTRIBUTED_TIMEOUT = flags.DEFINE_integer("distributed_timeout_s", 300, "--distributed: seconds to wait "
                                            "for the coordinator and the other processes.")
flags.mark_flags_as_required(["config", "workdir"])
HELP_FLAGS = ("--help", "-h", "-?", "--helpshort")


def define_mode_flags() -> dict:
  """Defines every flag that a workload's mode declares, once per name; returns name -> flag holder.

  A name several modes use (`--num_samples`) must have one type; its help lists every use.
  """
  uses = {}
  for workload_name, workload in sorted(WORKLOADS.items()):
    for mode_name, mode in sorted(workload.modes.items()):
      for flag_name, flag in sorted(mode.flags.items()):
        uses.setdefault(flag_name, []).append((f"{workload_name} --mode={mode_name}", flag))
  define = {int: flags.DEFINE_integer, float: flags.DEFINE_float, str: flags.DEFINE_string}
  holders = {}
  for name, where in uses.items():
    kinds = {flag.type for _, flag in where}
    if len(kinds) != 1:
      raise TypeError(f"modes declare --{name} with different types {kinds}: {[w for w, _ in where]}")
    holders[name] = define[kinds.pop()](name, None, "; ".join(f"{w}: {flag.help}" for w, flag in where))
  return holders


_MODE_FLAGS = define_mode_flags()


def _show_tracebacks() -> bool:
  return flags.FLAGS["verbosity"].present and flags.FLAGS.verbosity >= 1 or \
      os.environ.get("BIGMODEL_TRACEBACK") == "1"


def parse_flags(argv):
  """absl's flag parsing; a bad --config file, variant or override is one line, not a traceback.

  `--help` with `--config` and `--mode` describes that mode of the config's workload and its flags.
  """
  if any(a in HELP_FLAGS for a in argv) and any(a.startswith("--mode=") for a in argv) and \
      any(a.startswith("--config=") for a in argv):
    _print_mode_help([a for a in argv if a not in HELP_FLAGS])
  return config_errors.parse_or_fail(argv)


def _print_mode_help(argv) -> None:
  if not any(a.startswith("--workdir=") for a in argv):
    argv = argv + ["--workdir=."]   # Required by the parser, unused here.
  parse_flags(argv)
  try:
    print(describe_mode(_CONFIG.value, _MODE.value))
  except UserError as e:
    config_errors.fail(str(e))
  sys.exit(0)


def _mode_options() -> dict:
  """The mode flags given on the command line (the mode fills in the defaults of the others)."""
  return {name: holder.value for name, holder in _MODE_FLAGS.items() if holder.present}


def _config_source() -> str:
  return next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--config=")), "")


def _quiet_abandoned_checkpoint_reads(unraisable) -> None:
  """Drops the errors that the abandoned reads of a damaged checkpoint leave behind.

  After one read of a damaged checkpoint fails, Orbax closes its event loop with other
  reads still pending. Those reads fail again later, outside any caller: as the pending
  coroutines are collected, and as TensorStore threads post their results to the closed
  loop. Python can only print them; the failure itself is already reported in one of
  this launcher's lines. Anything else goes on to Python's default hook.
  """
  if not (_is_orbax_coroutine(unraisable.object) or _is_post_to_closed_loop(unraisable)):
    sys.__unraisablehook__(unraisable)


def _is_orbax_coroutine(obj) -> bool:
  code = getattr(obj, "cr_code", None)
  return code is not None and f"{os.sep}orbax{os.sep}" in code.co_filename


def _is_post_to_closed_loop(unraisable) -> bool:
  if unraisable.object is not None or not isinstance(unraisable.exc_value, RuntimeError):
    return False
  frames = traceback.extract_tb(unraisable.exc_traceback)
  return (str(unraisable.exc_value) == "Event loop is closed" and bool(frames)
          and frames[0].name == "call_soon_threadsafe")


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  xla_flags.set_defaults()  # Before the first use of a device.
  explicit = (_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  try:
    if _DISTRIBUTED.value:
      distributed.initialize(distributed.explicit_settings(*explicit), _DISTRIBUTED_TIMEOUT.value)
    elif any(v is not None for v in explicit):
      raise UserError("--coordinator_address / --num_processes / --process_id need --distributed")
  except UserError as e:
    config_errors.fail(str(e))
  host.stop_on_signals_outside_training()
  # Orbax logs every checkpoint step at INFO, read-only restores at WARNING and the damage
  # it finds in a checkpoint with tracebacks at ERROR, all of which this launcher reports in
  # its own lines; pass --verbosity=0 (or higher) to see them.
  if not flags.FLAGS["verbosity"].present:
    logging.set_verbosity(logging.FATAL)
    # Reads of a damaged checkpoint fail in several asyncio tasks at once; the ones nobody
    # awaited are logged with tracebacks when collected.
    std_logging.getLogger("asyncio").setLevel(std_logging.CRITICAL)
    sys.unraisablehook = _quiet_abandoned_checkpoint_reads
  config = config_errors.loaded_config(_CONFIG, sys.argv)
  if jax.process_index() == 0:
    print(f"devices: {jax.devices()} ({jax.process_count()} process(es))")
  try:
    result = train_and_evaluate(config, _WORKDIR.value, _MODE.value, options=_mode_options(),
                                config_source=_config_source())
  except (Interrupted, host.StoppedOutsideTraining) as e:
    print(f"stopped: {e}", file=sys.stderr)
    sys.exit(e.exit_status)
  except UserError as e:
    if _show_tracebacks():
      traceback.print_exc()
    config_errors.fail(str(e))
  if jax.process_index() != 0:
    return
  if "test" in result:
    print(f"{result.get('final_split', 'test')} metrics at step {result['step']}: {result['test']} "
          f"({result['wall_time_s']:.0f}s)")
  else:
    print(f"{_MODE.value} at step {result['step']}: "
          f"{ {k: v for k, v in result.items() if k not in ('step', 'wall_time_s')} }")


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
