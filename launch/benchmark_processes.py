r"""One process with two devices against two processes with one device each, same config.

  .venv/bin/python -m launch.benchmark_processes --config=configs/cnn_fashion_mnist.py \
      --steps=300 --batch_size=32

Runs the launcher twice on this machine (simulated CPU devices; 127.0.0.1 for the
coordinator) and prints the median training step time of each, read from the runs'
metrics.jsonl (examples/s between logs, after the first log, which holds compilation).
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile

from absl import app, flags

_CONFIG = flags.DEFINE_string("config", "configs/cnn_fashion_mnist.py", "Config file (path[:variant]).")
_STEPS = flags.DEFINE_integer("steps", 300, "Training steps of each run.")
_BATCH = flags.DEFINE_integer("batch_size", 32, "Global batch.")
_LOG_EVERY = 25


def _command(workdir: str, extra=()):
  return [sys.executable, "-m", "launch.main", f"--config={_CONFIG.value}", f"--workdir={workdir}",
          f"--config.train.num_steps={_STEPS.value}", f"--config.train.batch_size={_BATCH.value}",
          f"--config.train.log_every_steps={_LOG_EVERY}", f"--config.train.eval_every_steps={_STEPS.value}",
          f"--config.checkpoint.every_steps={_STEPS.value}", "--config.train.progress_bar=False", *extra]


def _env(devices: int):
  return dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")


def _step_ms(workdir: str) -> float:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rates = [r["train/examples_per_sec"] for r in map(json.loads, f) if "train/examples_per_sec" in r]
  return 1000.0 * _BATCH.value / statistics.median(rates[1:])


def one_process_two_devices(root: str) -> float:
  workdir = os.path.join(root, "one_process")
  subprocess.run(_command(workdir), env=_env(2), check=True, capture_output=True)
  return _step_ms(workdir)


def two_processes_one_device(root: str) -> float:
  workdir = os.path.join(root, "two_processes")
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  procs = [subprocess.Popen(_command(workdir, ("--distributed", f"--coordinator_address=127.0.0.1:{port}",
                                               "--num_processes=2", f"--process_id={i}")),
                            env=_env(1), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
           for i in range(2)]
  for p in procs:
    if p.wait() != 0:
      raise SystemExit(f"error: a process failed: {p.stderr.read().decode()[-2000:]}")
  return _step_ms(workdir)


def main(argv):
  del argv
  with tempfile.TemporaryDirectory() as root:
    one = one_process_two_devices(root)
    two = two_processes_one_device(root)
  print(f"{_CONFIG.value}, batch {_BATCH.value}, {os.cpu_count()} host cores")
  print(f"1 process x 2 devices: {one:.1f} ms/step | 2 processes x 1 device: {two:.1f} ms/step "
        f"| ratio {two / one:.2f}")


if __name__ == "__main__":
  app.run(main)
