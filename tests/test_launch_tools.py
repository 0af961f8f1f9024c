"""The launch tools that turn runs into documentation: the results table."""
import json

from launch import results_table, xla_flags


def test_results_table_has_a_row_per_run(tmp_path):
  run = tmp_path / "runs" / "cnn_digits"
  run.mkdir(parents=True)
  (run / "summary.json").write_text(json.dumps({
      "step": 570, "test": {"loss": 0.06, "accuracy": 0.98050}, "train_time_s": 5.2, "wall_time_s": 13.4,
      "devices": 1, "device_kind": "NVIDIA H100"}))
  table = results_table.results_table(str(tmp_path / "runs"))
  row = table.splitlines()[2]
  assert row.startswith("| cnn_digits |") and "accuracy 0.9805" in row and "| 570 |" in row
  assert "5 s" in row and "13 s" in row and "1x NVIDIA H100" in row
  assert "loss" not in row
  assert len(table.splitlines()) == 3


def test_results_table_uses_what_the_run_recorded(tmp_path):
  run = tmp_path / "runs" / "my_experiment"   # Not named like any config.
  run.mkdir(parents=True)
  (run / "summary.json").write_text(json.dumps({
      "step": 20, "test": {"loss": 2.1}, "train_time_s": 3.0, "wall_time_s": 9.0, "devices": 8,
      "device_kind": "cpu", "hardware": "96-core CPU (aarch64)", "date": "2026-01-02",
      "config_source": "configs/cnn_fashion_mnist.py:tiny"}))
  row = results_table.results_table(str(tmp_path / "runs")).splitlines()[2]
  assert "`--config=configs/cnn_fashion_mnist.py:tiny`" in row
  assert "96-core CPU (aarch64)" in row and "2026-01-02" in row
  assert "loss 2.1" in row   # The only metric is shown even when it is the loss.


def test_xla_flag_defaults_add_to_and_never_override_the_users_flags():
  environ = {"XLA_FLAGS": "--xla_force_host_platform_device_count=8"}
  xla_flags.set_defaults(environ)
  assert environ["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=8", *xla_flags.CPU_FLAGS]
  xla_flags.set_defaults(environ)
  assert len(environ["XLA_FLAGS"].split()) == 1 + len(xla_flags.CPU_FLAGS)
  name = xla_flags.CPU_FLAGS[0].split("=")[0]
  users = {"XLA_FLAGS": f"{name}=dot"}
  xla_flags.set_defaults(users)
  assert users["XLA_FLAGS"] == f"{name}=dot"
  off = {"BIGMODEL_XLA_DEFAULTS": "0"}
  xla_flags.set_defaults(off)
  assert "XLA_FLAGS" not in off


def test_the_launch_tools_import_together_beside_the_launcher():
  """Tests import these modules' functions in one process: none may define a flag at import time
  that another defines too (absl refuses a flag defined twice)."""
  import subprocess
  import sys
  from conftest import REPO
  code = ("from launch import fault_injection, reproduce, results_table, sparsity_plot, xla_flags\n"
          "from launch.benchmarks import kmeans_floor, nanogpt, op_profile, ppo_agents, purejaxrl, variants\n"
          "from launch import main\n")
  result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr.strip().splitlines()[-1:]
