r"""One process with two devices against two processes with one device each, same config.

  python -m launch.benchmark processes --config=configs/cnn_fashion_mnist.py --steps=300 --batch_size=32

Runs the launcher (`launch.main`) twice on this machine, simulated CPU devices and
127.0.0.1 for the coordinator: the --config and its --config.a.b overrides as given,
then --steps steps of global batch --batch_size, logged every 25 steps, evaluated and
checkpointed only at the end. Prints the median training step time of each, read from
the runs' metrics.jsonl (examples/s between logs, after the first log, which holds
compilation), and their ratio; with --repeats the two take turns.
"""
import os
import socket
import subprocess
import sys
import tempfile

from absl import flags

from launch.benchmarks import harness

_CONFIG = harness.config_flag("configs/cnn_fashion_mnist.py", "Config of both runs")
_STEPS = flags.DEFINE_integer("steps", 300, "Training steps of each run.")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Global batch.")
_REPEATS = harness.repeats_flag()
LOG_EVERY = 25


def launcher_arguments() -> list:
  """--config and its overrides as given, then the benchmark's own settings (which win)."""
  steps = _STEPS.value
  return harness.config_arguments() + [
      f"--config.train.num_steps={steps}", f"--config.train.batch_size={_BATCH.value}",
      f"--config.train.log_every_steps={LOG_EVERY}", f"--config.train.eval_every_steps={steps}",
      f"--config.checkpoint.every_steps={steps}", "--config.train.progress_bar=False"]


def launcher(workdir: str, extra=()) -> list:
  return [sys.executable, "-m", "launch.main", f"--workdir={workdir}", *launcher_arguments(), *extra]


def env_with_devices(devices: int) -> dict:
  return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")


def step_ms(workdir: str) -> float:
  rates = harness.logged_rates(workdir, "train/examples_per_sec")
  return 1000.0 * _BATCH.value / harness.steady_median(rates)


def one_process_two_devices(root: str) -> float:
  workdir = tempfile.mkdtemp(prefix="one_process_", dir=root)
  done = subprocess.run(launcher(workdir), env=env_with_devices(2), capture_output=True, text=True)
  if done.returncode != 0:
    raise SystemExit(f"error: the one-process run failed: {done.stderr[-2000:]}")
  return step_ms(workdir)


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def two_processes_one_device(root: str) -> float:
  workdir = tempfile.mkdtemp(prefix="two_processes_", dir=root)
  distributed = ("--distributed", f"--coordinator_address=127.0.0.1:{free_port()}", "--num_processes=2")
  procs = [subprocess.Popen(launcher(workdir, (*distributed, f"--process_id={i}")), env=env_with_devices(1),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for i in range(2)]
  for p in procs:
    if p.wait() != 0:
      raise SystemExit(f"error: a process failed: {p.stderr.read().decode()[-2000:]}")
  return step_ms(workdir)


def run(argv):
  del argv
  config = harness.loaded_config(_CONFIG)   # A bad config or override fails here, before any run.
  report = harness.Report("processes", config)
  with tempfile.TemporaryDirectory() as root:
    sides = {"1 process x 2 devices": lambda: one_process_two_devices(root),
             "2 processes x 1 device": lambda: two_processes_one_device(root)}
    for round_, side, ms in harness.take_turns(sides, _REPEATS.value):
      report.row({"round": round_, "side": side, "ms_per_step": ms})
  print(f"{harness.config_arguments()[0]}, batch {_BATCH.value}, {os.cpu_count()} host cores")
  for round_ in range(_REPEATS.value):
    ms = {r["side"]: r["ms_per_step"] for r in report.record["rows"] if r["round"] == round_}
    report.compare("step time", *ms.items(), "ms", lower_is_better=True)
  report.finish()
