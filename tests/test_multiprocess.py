"""Several processes through the launcher (`--distributed`, 127.0.0.1, simulated CPU devices).

Two processes of two devices must train exactly what one process of four does, for one
tiny config of every workload family; the checkpoints of such a run must restore on other
topologies; a SIGTERM to one process must stop both at the same step with one checkpoint.
Each workload family adds its `tiny` config to MULTI_PROCESS_CONFIGS.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from bigmodel_jax.engine import parallel
from bigmodel_jax.engine.checkpoints import Checkpointer
from conftest import REPO, assert_same_arrays, metric, state_arrays, truncate_to_first_checkpoint

# Per family: its tiny config, the logged curve compared, the tolerance on every array of the
# final train state, and the device counts of one process its first checkpoint moves to.
MULTI_PROCESS_CONFIGS = [
    pytest.param("cnn_digits", "train/loss", dict(rtol=2e-4, atol=2e-5), (1, 8), id="supervised"),
    pytest.param("dcgan_fashion_mnist", "train/d_loss", dict(rtol=2e-4, atol=2e-5), (), id="gan"),
    pytest.param("vae_fashion_mnist", "train/loss", dict(rtol=2e-4, atol=2e-5), (), id="vae"),
    # AdamW at lr 1e-2 turns the last-bit differences of near-zero gradients into differences
    # of ~1e-4 in the final state within 20 steps (measured: 1.1e-4); the losses agree to 2e-4.
    pytest.param("lm_shakespeare_char", "train/loss", dict(rtol=2e-4, atol=3e-4), (), id="lm"),
    pytest.param("ppo_cartpole", "train/loss", dict(rtol=2e-4, atol=2e-5), (), id="rl"),
    pytest.param("kmeans_digits", "train/inertia", dict(rtol=2e-4, atol=2e-5), (), id="kmeans"),
]
TIMEOUT_S = 300


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _command(config: str, workdir: str, extra=()):
  return [sys.executable, "-m", "launch.main", f"--config=configs/{config}.py:tiny", f"--workdir={workdir}",
          "--config.train.progress_bar=False", *extra]


def _env(devices: int):
  return dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")


def _start_processes(config, workdir, processes: int, devices: int, extra=()):
  address = f"127.0.0.1:{_free_port()}"
  return [subprocess.Popen(_command(config, workdir, ("--distributed", f"--coordinator_address={address}",
                                                      f"--num_processes={processes}", f"--process_id={i}",
                                                      "--distributed_timeout_s=60", *extra)),
                           cwd=REPO, env=_env(devices), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for i in range(processes)]


def _finish(procs):
  results = []
  try:
    for p in procs:
      out, err = p.communicate(timeout=TIMEOUT_S)
      results.append((p.returncode, out, err))
  finally:
    for p in procs:
      p.kill()
  return results


def _run_single(config, workdir, devices: int, extra=()):
  result = subprocess.run(_command(config, workdir, extra), cwd=REPO, env=_env(devices), capture_output=True,
                          text=True, timeout=TIMEOUT_S)
  assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("config, curve, tolerance, moves", MULTI_PROCESS_CONFIGS)
def test_two_processes_equal_one(tmp_path, config, curve, tolerance, moves):
  single, multi = str(tmp_path / "single"), str(tmp_path / "multi")
  _run_single(config, single, devices=4)
  results = _finish(_start_processes(config, multi, processes=2, devices=2))
  for code, _, err in results:
    assert code == 0, err[-3000:]
  assert metric(single, curve) and len(metric(single, curve)) == len(metric(multi, curve))
  np.testing.assert_allclose(metric(single, curve), metric(multi, curve), rtol=2e-4)
  assert_same_arrays(state_arrays(single), state_arrays(multi), **tolerance)
  # Only process 0 writes the run's files: one summary, one metrics row per log, one report.
  assert json.loads(open(os.path.join(multi, "summary.json")).read())["processes"] == 2
  assert " metrics at step " in results[0][1] and " metrics at step " not in results[1][1]
  # The first checkpoint of the 2-process run continues on other devices of one process.
  for devices in moves:
    moved = str(tmp_path / f"moved_{devices}")
    shutil.copytree(multi, moved)
    truncate_to_first_checkpoint(moved)
    _run_single(config, moved, devices=devices)
    assert_same_arrays(state_arrays(single), state_arrays(moved), **tolerance)


@pytest.mark.slow
def test_sigterm_to_one_process_stops_both_at_one_step_and_the_command_resumes(tmp_path):
  workdir = str(tmp_path)
  extra = ("--config.train.num_steps=400", "--config.checkpoint.every_steps=20", "--config.train.eval_every_steps=400")
  procs = _start_processes("cnn_digits", workdir, processes=2, devices=2, extra=extra)
  deadline = time.time() + TIMEOUT_S
  while not os.path.isdir(os.path.join(workdir, "checkpoints", "20")) and time.time() < deadline:
    time.sleep(0.2)
  procs[1].send_signal(signal.SIGTERM)
  results = _finish(procs)
  steps = []
  for code, _, err in results:
    assert code == 0, err[-3000:]
    stopped = [line for line in err.splitlines() if line.startswith("stopped: SIGTERM")]
    assert len(stopped) == 1, err[-3000:]
    steps.append(int(stopped[0].split("stopped at step ")[1].split(",")[0]))
  assert steps[0] == steps[1] < 400
  assert Checkpointer(workdir, keep=10, read_only=True).latest_step() == steps[0]
  # The same command picks up from there and finishes.
  for code, _, err in _finish(_start_processes("cnn_digits", workdir, processes=2, devices=2, extra=extra)):
    assert code == 0, err[-3000:]
  assert json.loads(open(os.path.join(workdir, "summary.json")).read())["step"] == 400


def test_each_process_reads_its_own_rows_and_together_they_read_the_batch():
  from bigmodel_jax.data.pipeline import SupervisedData
  ids = np.arange(100, dtype=np.float32)[:, None]
  data = SupervisedData({"train": (ids, ids)}, None, np.zeros(1), np.ones(1), batch_size=24, seed=0)
  for step in (0, 3, 7):
    whole = data.train_batch(step)["targets"].ravel()
    parts = [data.train_batch(step, rows=slice(i * 8, (i + 1) * 8))["targets"].ravel() for i in range(3)]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    assert len(set(np.concatenate(parts).tolist())) == 24


@pytest.mark.slow
def test_bad_distributed_launches_are_one_line(tmp_path):
  def launch(*args, timeout=120):
    result = subprocess.run(_command("cnn_digits", str(tmp_path), ("--distributed", *args)), cwd=REPO,
                            env=_env(1), capture_output=True, text=True, timeout=timeout)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 1 and len(errors) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return errors[0]

  assert "must be in [0, 2)" in launch("--coordinator_address=127.0.0.1:1234", "--num_processes=2", "--process_id=2")
  assert "missing ['num_processes', 'process_id']" in launch("--coordinator_address=127.0.0.1:1234")
  # Nobody listens on the coordinator's port: a bounded wait, then one line.
  start = time.time()
  line = launch(f"--coordinator_address=127.0.0.1:{_free_port()}", "--num_processes=2", "--process_id=1",
                "--distributed_timeout_s=5")
  assert "no coordinator answers at" in line and time.time() - start < 90


def test_process_rows_split_a_dimension_evenly(monkeypatch):
  assert parallel.process_rows(16) == slice(0, 16)   # One process: everything.
  monkeypatch.setattr(jax, "process_count", lambda: 4)
  for index, rows in enumerate([slice(0, 4), slice(4, 8), slice(8, 12), slice(12, 16)]):
    monkeypatch.setattr(jax, "process_index", lambda index=index: index)
    assert parallel.process_rows(16) == rows


@pytest.mark.slow
def test_importing_the_launcher_does_not_start_jax():
  """`jax.distributed.initialize` must come before the backend starts, so no module the
  launcher imports (every workload and model, through the registries) may start it."""
  probe = ("import jax._src.xla_bridge as xb; import launch.main; "
           "print(xb.backends_are_initialized())")
  out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                       timeout=TIMEOUT_S, check=True)
  assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr
