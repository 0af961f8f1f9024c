"""`python -m launch.benchmark`: the list, each benchmark end to end on tiny shapes, overrides, errors.

Every benchmark runs in its own process, as a user runs it, on one CPU device; the
tests read what it prints and the JSON it writes (--out), never how fast it was. The
peers that are not installed here (PyTorch, Keras) are left out, or stood in for by a
script that prints a peer's line; the tests with the real ones skip without them.
"""
import json
import os
import stat
import subprocess
import sys

import pytest

from conftest import REPO
from launch.benchmark import BENCHMARKS

MACHINE_KEYS = {"cpu", "cores", "load_before", "load_after"}


def _one_device_env() -> dict:
  """This process's environment without conftest's 8 simulated devices."""
  kept = [f for f in os.environ.get("XLA_FLAGS", "").split() if "device_count" not in f]
  return dict(os.environ, XLA_FLAGS=" ".join(kept), JAX_PLATFORMS="cpu")


def _benchmark(*args, timeout=240) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "launch.benchmark", *args], cwd=REPO, env=_one_device_env(),
                        capture_output=True, text=True, timeout=timeout)


def _fake_pytorch(tmp_path) -> str:
  """An executable that answers like launch/torch_gpt_reference.py: one JSON line."""
  path = tmp_path / "fake_torch_python"
  path.write_text('#!/bin/sh\necho \'{"framework": "stand-in", "tokens_per_sec": 1000.0, "val_loss": 4.0}\'\n')
  path.chmod(path.stat().st_mode | stat.S_IEXEC)
  return str(path)


def test_help_lists_every_benchmark_in_one_line_each():
  result = _benchmark("--help")
  assert result.returncode == 0, result.stderr
  for name in BENCHMARKS:
    assert len([line for line in result.stdout.splitlines() if line.split()[:1] == [name]]) == 1, name
    assert os.path.exists(os.path.join(REPO, "launch", "benchmarks", f"{name}.py"))


def test_no_name_lists_the_benchmarks_and_an_unknown_name_is_one_error_line():
  listed = _benchmark()
  assert listed.returncode != 0 and all(name in listed.stdout for name in BENCHMARKS)
  unknown = _benchmark("nonesuch")
  assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
  assert unknown.stderr.startswith("error: no benchmark 'nonesuch'")


def test_a_benchmarks_help_gives_its_purpose_and_flags():
  result = _benchmark("ppo", "--help")
  assert result.returncode == 0, result.stderr
  assert "python -m launch.benchmark ppo" in result.stdout
  assert all(f"--{flag}:" in result.stdout for flag in ("seeds", "devices", "config", "out"))


@pytest.mark.parametrize("args, message", [
    (("--config.kmeans.no_such_key=1",), "error: a --config override names a key the config file does not declare"),
    (("--config.kmeans.tol=fast",), "error: flag --config.kmeans.tol=fast: could not convert string to float"),
])
def test_a_bad_config_or_override_is_one_error_line(args, message):
  result = _benchmark("kmeans", *args)
  assert result.returncode == 1
  assert result.stderr.startswith(message) and result.stderr.count("\n") == 1, result.stderr
  assert result.stdout == ""


def _kmeans_took_the_override(record, stdout):
  assert record["config"]["kmeans"]["num_clusters"] == 4 and "k = 4" in stdout   # Not the config's 3.
  row = record["rows"][0]
  assert row["seed"] == 0 and {"fit_s", "cpu_s", "compile_s", "inertia", "n_iter"} <= set(row["ours"])
  assert {"fit_s", "cpu_s", "inertia", "n_iter"} <= set(row["scikit-learn"])
  # Both sides fit 4 clusters of the same points: their inertias are of one size (3 would be far larger).
  assert row["ours"]["inertia"] == pytest.approx(row["scikit-learn"]["inertia"], rel=0.5)
  assert [c["what"] for c in record["comparisons"]] == ["median fit", "median fit per iteration",
                                                        "median CPU seconds"]


def _ppo_row(record, stdout):
  row = record["rows"][0]
  assert row["seeds"] == 2 and row["updates"] == 16 and row["devices"] == 1
  assert {"compile_s", "run_s", "run_cpu_s", "env_steps_per_s", "final_return_mean"} <= set(row)
  assert "seeds=  2 devices=1" in stdout and "machine speed" not in stdout   # --skip_machine_line.


def _lm_both_sides(record, stdout):
  assert [r["side"] for r in record["rows"]] == ["ours", "PyTorch"]
  assert record["rows"][0]["steps_per_dispatch"] == 5 and record["config"]["lm"]["report_tokens"] == 0
  assert record["comparisons"][0]["sides"]["PyTorch"] == 1000.0 and "tokens/s against PyTorch: ours" in stdout
  assert "val loss after 20 steps" in stdout


def _time_to_accuracy_reached(record, stdout):
  (row,) = record["rows"]
  assert row["side"] == "bigmodel_jax" and row["test_accuracy"] >= 0.05 and row["step"] == 8   # The first evaluation.
  assert "time to 5.0% digits test accuracy" in stdout and "keras" not in stdout


def _step_rates(record, stdout):
  (row,) = record["rows"]
  assert row["unit"] == "examples" and len(row["window_s"]) == 2
  assert {"compile_s", "steps_per_s", "units_per_s"} <= set(row) and "examples/s" in stdout


def _processes_both_sides(record, stdout):
  assert [r["side"] for r in record["rows"]] == ["1 process x 2 devices", "2 processes x 1 device"]
  assert all(r["ms_per_step"] > 0 for r in record["rows"])
  assert record["comparisons"][0]["what"] == "step time" and "step time: 1 process x 2 devices" in stdout


END_TO_END = {
    "kmeans": (("--config=configs/kmeans_fashion_mnist.py:tiny", "--seeds=0", "--config.kmeans.num_clusters=4"),
               _kmeans_took_the_override),
    "ppo": (("--config=configs/ppo_cartpole.py:tiny", "--seeds=2", "--skip_machine_line"), _ppo_row),
    "lm": (("--config=configs/lm_shakespeare_char.py:tiny", "--torch_python={fake_pytorch}"), _lm_both_sides),
    "time_to_accuracy": (("--config=configs/cnn_digits.py:tiny", "--target=0.05", "--skip_keras"),
                         _time_to_accuracy_reached),
    "step": (("--config=configs/cnn_digits.py:tiny", "--steps=2", "--warmup=1", "--windows=2"), _step_rates),
    # mlp_regression pins mesh.data=1 and has 5 examples: both overrides must reach the launcher's processes.
    "processes": (("--config=configs/mlp_regression.py:tiny", "--steps=50", "--batch_size=4",
                   "--config.mesh.data=-1", "--config.eval.batch_size=4"), _processes_both_sides),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(END_TO_END))
def test_benchmark_runs_end_to_end_and_writes_its_numbers(name, tmp_path):
  args, check = END_TO_END[name]
  args = [a.format(fake_pytorch=_fake_pytorch(tmp_path)) if "{" in a else a for a in args]
  out = tmp_path / "results" / f"{name}.json"
  result = _benchmark(name, *args, f"--out={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.strip().splitlines()
  assert lines[0].startswith("machine: ") and lines[-1].startswith("load average "), result.stdout
  record = json.loads(out.read_text())
  assert record["benchmark"] == name and record["command"].startswith(f"python -m launch.benchmark {name}")
  assert MACHINE_KEYS <= set(record["machine"]) and record["settings"]["out"] == str(out)
  assert record["rows"] and record["config"]["workload"]
  for comparison in record["comparisons"]:
    assert len(comparison["sides"]) == 2 and comparison["speedup"] > 0
  check(record, result.stdout)


def test_lm_beside_the_real_pytorch_when_installed(tmp_path):
  python = os.environ.get("BIGMODEL_TORCH_PYTHON") or os.path.join(REPO, ".venv-torch", "bin", "python")
  if not os.path.exists(python):
    pytest.skip("no PyTorch peer (.venv-torch, or BIGMODEL_TORCH_PYTHON)")
  out = tmp_path / "lm.json"
  result = _benchmark("lm", "--config=configs/lm_shakespeare_char.py:tiny", f"--torch_python={python}", f"--out={out}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(out.read_text())["rows"][1]["framework"].startswith("pytorch")


def test_time_to_accuracy_beside_the_real_keras_when_installed(tmp_path):
  venv = os.environ.get("BIGMODEL_KERAS_VENV") or os.path.join(REPO, ".venv-keras")
  if not os.path.exists(os.path.join(venv, "bin", "python")):   # The benchmark would install it: not here.
    pytest.skip("no Keras peer (.venv-keras, or BIGMODEL_KERAS_VENV)")
  out = tmp_path / "time_to_accuracy.json"
  result = _benchmark("time_to_accuracy", "--config=configs/cnn_fashion_mnist_fast.py:tiny", "--target=0.2",
                      f"--keras_venv={venv}", f"--out={out}", timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  assert json.loads(out.read_text())["comparisons"][0]["what"] == "speed-up"
