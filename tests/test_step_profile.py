"""`launch.benchmark profile`: the per-op profile of a config's train step, read from a jax.profiler trace."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from launch.benchmarks import op_profile as profile


def test_op_kind_drops_the_numeric_suffix_only():
  assert profile.op_kind("loop_add_fusion.12") == "loop_add_fusion"
  assert profile.op_kind("dot.4.1") == "dot"
  assert profile.op_kind("while") == "while" and profile.op_kind("ynn_fusion") == "ynn_fusion"


def test_bookkeeping_events_are_not_ops():
  for name in ("PjitFunction(train)", "ThunkExecutor::Execute", "CommonPjRtLoadedExecutable::ExecuteHelper",
               "$core.py:123 call"):
    assert profile.NOT_OPS.search(name), name
  for name in ("fusion.3", "dot.187", "copy_bitcast_fusion", "while.302"):
    assert not profile.NOT_OPS.search(name), name


@pytest.mark.slow   # ~15 s: compiles and traces the tiny LM.
def test_profile_of_the_tiny_lm_lists_its_ops_and_writes_them(tmp_path):
  out = tmp_path / "profile.json"
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  env.pop("XLA_FLAGS", None)
  result = subprocess.run([sys.executable, "-m", "launch.benchmark", "profile",
                           "--config=configs/lm_shakespeare_char.py:tiny", "--dispatches=1", "--top=5", f"--out={out}"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
  assert result.returncode == 0, result.stderr[-3000:]
  record = json.loads(out.read_text())
  per_step = record["summary"]["per_step"]
  assert per_step["ops"] > 10 and 0 < per_step["ops_ms"] and per_step["wall_ms"] > 0
  rows = record["rows"]
  assert len(rows) == 5 and all(r["ms_per_step"] > 0 for r in rows)
  assert [r["ms_per_step"] for r in rows] == sorted((r["ms_per_step"] for r in rows), reverse=True)
  assert any(k.startswith("kind/") and ("dot" in k or "fusion" in k) for k in record["summary"]), record["summary"]
  assert "ms per step" in result.stdout and "by kind" in result.stdout
