"""`launch.benchmark step --variant`: several variants of a config timed side by side, with the
compiled step's memory; the parsing, the table, the run end to end on tiny shapes and bad flags.

Nothing here asserts how fast a step was, only what is measured and reported.
"""
import json

import pytest

from conftest import load_config, one_error_line
from launch.benchmarks import variants as step   # Flag-free: imports beside the launcher.
from test_benchmarks import _benchmark


def test_a_variant_is_a_name_and_dotted_overrides_with_literal_values():
  name, overrides = step.parse_variant("wide:model.features=(16,32),train.batch_size=8,model.activation=tanh")
  assert name == "wide"
  assert overrides == {"model.features": (16, 32), "train.batch_size": 8, "model.activation": "tanh"}


def test_a_bare_name_is_a_preset_and_plain_changes_nothing():
  assert step.parse_variant("plain") == ("plain", {})
  assert step.parse_variant("qat") == ("qat", {"quant.weights": "int8", "quant.qat": True})
  assert step.parse_variant("dp")[1]["dp.clip_norm"] > 0


@pytest.mark.parametrize("text, message", [("nonesuch", "no preset 'nonesuch'"), (":a=1", "has no name"),
                                           ("x:model.features", "is not key=value")])
def test_a_malformed_variant_is_a_value_error_naming_it(text, message):
  with pytest.raises(ValueError, match=message):
    step.parse_variant(text)


def test_overrides_change_a_copy_and_a_missing_key_or_wrong_type_is_refused():
  config = load_config("cnn_digits", "tiny")
  changed = step.with_overrides(config, {"dp.clip_norm": 1, "model.activation": "tanh"}, "--variant=x")
  assert changed.dp.clip_norm == 1.0 and changed.model.activation == "tanh"
  assert config.dp.clip_norm == 0.0 and config.model.activation == "relu"
  with pytest.raises(ValueError, match="no key 'model.nonesuch'"):
    step.with_overrides(config, {"model.nonesuch": 1}, "--variant=x")
  with pytest.raises(ValueError, match="train.batch_size='many'"):
    step.with_overrides(config, {"train.batch_size": "many"}, "--variant=x")


def test_the_table_gives_time_and_memory_as_multiples_of_the_first_variant():
  mib = 2**20
  rows = [{"variant": "plain", "overrides": {}, "ms_per_step": 2.0, "units_per_s": 500.0, "unit": "examples",
           "temp_size_in_bytes": 4 * mib, "argument_size_in_bytes": mib, "output_size_in_bytes": mib},
          {"variant": "dp", "overrides": {"dp.clip_norm": 1.0}, "ms_per_step": 7.0, "units_per_s": 143.0,
           "unit": "examples", "temp_size_in_bytes": 10 * mib, "argument_size_in_bytes": mib,
           "output_size_in_bytes": mib}]
  lines = step.variant_table(rows)
  assert lines[2].startswith("| plain | - | 2.00 | 1.00 |")
  assert lines[3] == ("| dp | dp.clip_norm=1.0 | 7.00 | 3.50 | 143 examples | 10.00 | 2.50 | 1.00 | 1.00 |")


def test_memory_bytes_of_a_compiled_function():
  import jax
  import jax.numpy as jnp
  compiled = jax.jit(lambda x: jnp.tanh(x @ x.T).sum(0)).lower(jnp.ones((64, 32))).compile()
  memory = step.memory_bytes(compiled)
  assert memory["argument_size_in_bytes"] == 64 * 32 * 4 and memory["output_size_in_bytes"] == 64 * 4


@pytest.mark.slow
def test_variants_run_side_by_side_and_write_time_and_memory(tmp_path):
  out = tmp_path / "step.json"
  result = _benchmark("step", "--config=configs/cnn_digits.py:tiny", "--steps=2", "--warmup=1",
                      "--variant=plain", "--variant=dp:dp.clip_norm=1.0,model.batch_norm=False",
                      "--variant=prune", f"--out={out}", timeout=400)
  assert result.returncode == 0, result.stderr[-3000:]
  record = json.loads(out.read_text())
  assert [r["variant"] for r in record["rows"]] == ["plain", "dp", "prune"]
  for row in record["rows"]:
    assert row["ms_per_step"] > 0 and row["temp_size_in_bytes"] >= 0 and row["argument_size_in_bytes"] > 0
  # Per-example gradients of a batch of 32 need more scratch memory than the batch's one gradient.
  assert record["rows"][1]["temp_size_in_bytes"] > record["rows"][0]["temp_size_in_bytes"]
  assert [c["what"] for c in record["comparisons"]] == ["step time, dp against plain", "step time, prune against plain"]
  assert "| variant | overrides | ms/step | x first |" in result.stdout


@pytest.mark.parametrize("args, message", [
    (("--variant=nonesuch",), "--variant='nonesuch': no preset"),
    (("--variant=a:model.nonesuch=1",), "--variant=a:model.nonesuch=1: the config has no key 'model.nonesuch'"),
    (("--variant=a", "--variant=a:seed=1"), "no preset 'a'"),
    (("--variant=plain", "--variant=plain"), "--variant names repeat"),
    (("--variant=bn:dp.clip_norm=1.0,model.batch_norm=True",), "--variant=bn: dp.clip_norm>0 with model.batch_norm=True"),
])
def test_a_bad_variant_is_one_error_line(args, message):
  result = _benchmark("step", "--config=configs/cnn_digits.py:tiny", "--steps=1", "--warmup=0", *args)
  assert message in one_error_line(result)
