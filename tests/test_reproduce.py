"""`python -m launch.reproduce`: claims rerun on `:tiny`, tables regenerated between markers, `--check`."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
from launch import reproduce

DOC = """# Results
<!-- reproduce:supervised:begin -->
| typed by hand |
<!-- reproduce:supervised:end -->
text between
<!-- reproduce:benchmarks:begin -->
<!-- reproduce:benchmarks:end -->
"""


def _claimed_copy(folder, name: str, value: float, tolerance: float) -> None:
  """configs/mlp_xor.py with a CLAIM on its `:tiny` variant, as `<name>.py` in `folder`."""
  shutil.copy(os.path.join(REPO, "configs", "mlp_xor.py"), folder / f"{name}.py")
  with open(folder / f"{name}.py", "a") as f:
    f.write(f"\nCLAIM = dict(metric='test.mse', value={value}, tolerance={tolerance}, higher_is_better=False,\n"
            f"             hardware='2-core CPU', train_minutes=0.01, measured='2026-12-03', variant='tiny')\n")


@pytest.fixture()
def claimed(tmp_path):
  configs = tmp_path / "configs"
  configs.mkdir()
  _claimed_copy(configs, "xor_in", 0.5, 0.5)     # Any finite MSE under 1 is inside.
  _claimed_copy(configs, "xor_out", 100.0, 1.0)  # No 2-2-1 fit of 0/1 targets gets there.
  (tmp_path / "README.md").write_text(DOC)
  return tmp_path


def _reproduce(root, *args):
  flags = [f"--configs={root / 'configs'}", f"--results={root / 'results'}", f"--runs={root / 'runs'}",
           f"--docs={root / 'README.md'}"]
  return subprocess.run([sys.executable, "-m", "launch.reproduce", *flags, *args], cwd=REPO,
                        capture_output=True, text=True, timeout=300, env=dict(os.environ, JAX_PLATFORMS="cpu"))


def _write_result(root, name: str, seed: int, value: float) -> None:
  os.makedirs(root / "results" / name, exist_ok=True)
  record = {"config": name, "seed": seed, "metric": "test.mse", "value": value, "train_time_s": 30.0,
            "hardware": "2-core CPU (x86_64)", "date": "2026-12-03", "command": "python -m launch.main ..."}
  (root / "results" / name / f"seed{seed}.json").write_text(json.dumps(record))


def test_table_shows_mean_and_min_max_over_seeds(claimed):
  for seed, value in enumerate((0.2, 0.4, 0.3)):
    _write_result(claimed, "xor_in", seed, value)
  claims = reproduce.load_claims(str(claimed / "configs"))
  table = reproduce.claims_table("configs", claims, str(claimed / "results"), "supervised")
  row = [line for line in table.splitlines() if "xor_in" in line][0]
  assert "**0.3**" in row and "0.2 – 0.4 (3 seeds)" in row and "0.5 ± 0.5" in row and "| in |" in row
  assert "not measured" in [line for line in table.splitlines() if "xor_out" in line][0]


def test_only_the_marked_tables_are_rewritten():
  text, count = reproduce.replace_between(DOC, "<!-- reproduce:supervised:begin -->",
                                          "<!-- reproduce:supervised:end -->", "| new |")
  assert count == 1 and "typed by hand" not in text and "| new |" in text and "text between" in text
  assert reproduce.replace_between(text, "<!-- reproduce:supervised:begin -->",
                                   "<!-- reproduce:supervised:end -->", "| new |")[0] == text


def test_outside_bands_names_the_config_and_its_band(claimed):
  _write_result(claimed, "xor_in", 0, 0.1)
  claims = reproduce.load_claims(str(claimed / "configs"))
  bad = reproduce.outside_bands(claims, str(claimed / "results"))
  assert len(bad) == 1 and bad[0].startswith("xor_out: no results")
  _write_result(claimed, "xor_out", 0, 0.1)
  bad = reproduce.outside_bands(claims, str(claimed / "results"))
  assert len(bad) == 1 and bad[0].startswith("xor_out: test.mse mean 0.1") and "100.0 ± 1.0" in bad[0]


@pytest.mark.slow
def test_check_names_the_config_outside_its_band_without_rerunning(claimed):
  _write_result(claimed, "xor_in", 0, 0.1)
  _write_result(claimed, "xor_out", 0, 0.1)
  result = _reproduce(claimed, "--norun", "--check")
  assert result.returncode == 1
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1 and "xor_out" in errors[0] and "100" in errors[0]
  assert _reproduce(claimed, "--norun", "--check", "--only=xor_in").returncode == 0


def test_unknown_config_in_only_is_one_error_line(claimed):
  result = _reproduce(claimed, "--norun", "--only=nope")
  assert result.returncode != 0 and "error: --only=nope" in result.stderr and "xor_in" in result.stderr


@pytest.mark.slow
def test_tiny_claims_rerun_regenerate_the_table_and_check_fails_outside(claimed):
  result = _reproduce(claimed, "--seeds=2", "--check")
  assert result.returncode == 1, result.stderr[-2000:]
  assert "xor_out" in result.stderr and "xor_in" not in result.stderr
  for seed in (0, 1):
    record = json.loads((claimed / "results" / "xor_in" / f"seed{seed}.json").read_text())
    assert record["seed"] == seed and 0 <= record["value"] < 1 and "--config.seed" in record["command"]
  doc = (claimed / "README.md").read_text()
  assert "typed by hand" not in doc and "(2 seeds)" in doc and "text between" in doc
  assert "| benchmark | what |" in doc
