"""int8 quantisation (qwix): outputs close to float, the quantised run written and evaluated, QAT trains."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.engine import quantize, trainer
from bigmodel_jax.models.cnn import CNN
from conftest import make_config


def _cnn_and_variables():
  model = CNN(num_outputs=10, features=(8, 16), kernel_size=3, padding="SAME", dense_features=32)
  x = jax.random.normal(jax.random.PRNGKey(1), (4, 28, 28, 1))
  return model, model.init(jax.random.PRNGKey(0), x, train=False), x


@pytest.mark.parametrize("activations,tolerance", [("float", 0.02), ("int8", 0.04)])
def test_int8_outputs_close_to_float_on_fixed_inputs(activations, tolerance):
  model, variables, x = _cnn_and_variables()
  cfg = make_config("cnn_digits", **{"quant.weights": "int8", "quant.activations": activations}).quant
  qmodel = quantize.wrap_model(model, cfg)
  qparams = quantize.quantize_params(variables["params"], qmodel, x, train=False)
  float_out, int8_out = model.apply(variables, x, train=False), qmodel.apply({"params": qparams}, x, train=False)
  scale = float(jnp.abs(float_out).max())
  assert float(jnp.abs(float_out - int8_out).max()) < tolerance * scale
  assert not np.array_equal(float_out, int8_out)    # Quantised for real, not passed through.
  assert quantize.tree_bytes(qparams) < 0.3 * quantize.tree_bytes(variables["params"])


def test_quantize_mode_writes_a_run_that_eval_reads(digits_run, tmp_path):
  workdir, summary = digits_run
  output = str(tmp_path / "int8")
  result = trainer.train_and_evaluate(make_config("cnn_digits"), workdir, mode="quantize",
                                      options={"output": output})
  assert abs(result["int8"]["accuracy"] - result["float"]["accuracy"]) < 0.05
  assert result["float"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])
  assert result["int8_param_bytes"] < 0.3 * result["float_param_bytes"]
  evaluated = trainer.train_and_evaluate(make_config("cnn_digits", **{"quant.weights": "int8"}), output, mode="eval")
  assert evaluated["test"]["accuracy"] == pytest.approx(result["int8"]["accuracy"])
  assert json.load(open(os.path.join(output, "summary.json")))["config"]["quant"]["weights"] == "int8"


@pytest.mark.slow
def test_quantisation_aware_training_runs_and_learns(tmp_path):
  summary = trainer.train_and_evaluate(make_config("cnn_digits", **{"quant.weights": "int8", "quant.qat": True}),
                                       str(tmp_path))
  assert summary["test"]["accuracy"] > 0.3
