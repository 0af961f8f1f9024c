"""int8 on the shared --mode=quantize: the language model's logits close to float with int8 kernels,
its quantised run read by eval / sample / export, the classifier's by predict / export, bad values refused."""
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import qwix

from bigmodel_jax.data.sources import sklearn_digits
from bigmodel_jax.engine import quantize, trainer
from bigmodel_jax.models.transformer import Transformer
from conftest import file_checksums, launch, load_config, make_config, one_error_line

TEXT = "\n".join("the king shall speak of love and night." for _ in range(200))


def _int8_config(**quant):
  return make_config("lm_shakespeare_char", **{"quant.weights": "int8", **{f"quant.{k}": v for k, v in quant.items()}})


def _lm_and_params():
  model = Transformer(num_outputs=13, num_layers=2, num_heads=2, embed_dim=32, max_len=16, positions="rotary")
  tokens = jax.random.randint(jax.random.PRNGKey(1), (4, 16), 0, 13)
  params = nn.unbox(model.init(jax.random.PRNGKey(0), tokens, train=False)["params"])
  return model, params, tokens


def _qarrays(tree) -> dict:
  """Path -> the int8 value array of every quantised weight."""
  found = {}
  is_q = lambda x: isinstance(x, qwix.QArray)
  for path, leaf in jax.tree_util.tree_flatten_with_path(tree, is_leaf=is_q)[0]:
    if is_q(leaf):
      found[jax.tree_util.keystr(path)] = leaf.qvalue
  return found


@pytest.mark.parametrize("activations,tolerance", [("float", 0.02), ("int8", 0.04)])
def test_int8_lm_logits_close_to_float_on_a_fixed_batch(activations, tolerance):
  model, params, tokens = _lm_and_params()
  qmodel = quantize.wrap_model(model, _int8_config(activations=activations).quant)
  qparams = quantize.quantize_params(params, qmodel, tokens, train=False)
  float_out, int8_out = model.apply({"params": params}, tokens, train=False), qmodel.apply({"params": qparams},
                                                                                            tokens, train=False)
  scale = float(jnp.abs(float_out).max())
  assert float(jnp.abs(float_out - int8_out).max()) < tolerance * scale
  assert not np.array_equal(float_out, int8_out)    # Quantised for real, not passed through.
  kernels = _qarrays(qparams)
  # Every matmul kernel of both blocks is int8; the tied token embedding stays float (it is also a gather).
  assert len(kernels) == 2 * 4 and all(q.dtype == jnp.int8 for q in kernels.values())
  assert all("token_embedding" not in path for path in kernels)
  assert qparams["token_embedding"]["embedding"].dtype == jnp.float32


def test_float_config_leaves_the_model_unwrapped():
  model, _, _ = _lm_and_params()
  assert quantize.wrap_model(model, make_config("lm_shakespeare_char").quant) is model


# --- the quantised LM run -------------------------------------------------------------------------

def _lm_config(corpus, **quant):
  config = load_config("lm_shakespeare_char", "tiny")
  config.data.name, config.data.files = "files", corpus
  config.mesh.update(dict(data=1, model=1))
  config.quant.update(quant)
  return config


@pytest.fixture(scope="module")
def quantized_lm(tmp_path_factory):
  """(corpus, float workdir, int8 workdir, the quantize mode's result) of one tiny LM run."""
  corpus = tmp_path_factory.mktemp("corpus") / "text.txt"
  corpus.write_text(TEXT)
  workdir, output = str(tmp_path_factory.mktemp("lm")), str(tmp_path_factory.mktemp("lm_int8"))
  trainer.train_and_evaluate(_lm_config(str(corpus)), workdir)
  result = trainer.train_and_evaluate(_lm_config(str(corpus)), workdir, mode="quantize", options={"output": output})
  return str(corpus), workdir, output, result


def test_quantize_mode_writes_an_lm_run_that_eval_reads(quantized_lm):
  corpus, workdir, output, result = quantized_lm
  assert result["split"] == "validation" and result["int8_param_bytes"] < 0.7 * result["float_param_bytes"]
  assert abs(result["int8"]["loss"] - result["float"]["loss"]) < 0.05
  summary = json.load(open(os.path.join(output, "summary.json")))
  assert summary["config"]["quant"]["weights"] == "int8" and summary["test"] == pytest.approx(result["int8"])
  evaluated = trainer.train_and_evaluate(_lm_config(corpus, weights="int8"), output, mode="eval")
  assert evaluated["test"]["loss"] == pytest.approx(result["int8"]["loss"], rel=1e-6)


def test_the_quantised_lm_samples_and_exports(quantized_lm, tmp_path):
  corpus, _, output, _ = quantized_lm
  config = _lm_config(corpus, weights="int8")
  sampled = trainer.train_and_evaluate(config, output, mode="sample",
                                       options={"prompt": "the king", "num_tokens": 6, "num_samples": 2})
  assert [s[:8] for s in sampled["samples"]] == ["the king"] * 2 and sampled["cache"]
  assert all(len(s) == 14 and set(s) <= set(TEXT) for s in sampled["samples"])
  _assert_export_matches(config, output, str(tmp_path / "export"))


def _assert_export_matches(config, workdir: str, folder: str):
  """The jax.export artefact of the quantised run loads and gives the trainer's own outputs."""
  trainer.train_and_evaluate(config, workdir, mode="export", options={"output": folder})
  exported = jax.export.deserialize(bytearray(open(os.path.join(folder, "model.jaxexport"), "rb").read()))
  x, expected = np.load(os.path.join(folder, "example_inputs.npy")), np.load(os.path.join(folder, "example_outputs.npy"))
  np.testing.assert_allclose(np.asarray(exported.call(x)), expected, rtol=1e-5, atol=1e-5)
  assert "xi8>" in exported.mlir_module()      # The int8 weights travel inside the artefact.


# --- the quantised classifier run -----------------------------------------------------------------

def test_the_quantised_classifier_predicts_and_exports(digits_run, tmp_path):
  workdir, _ = digits_run
  output = str(tmp_path / "int8")
  result = trainer.train_and_evaluate(make_config("cnn_digits"), workdir, mode="quantize", options={"output": output})
  config = make_config("cnn_digits", **{"quant.weights": "int8"})
  predicted = trainer.train_and_evaluate(config, output, mode="predict", options={"top_k": 1})
  rows = [json.loads(line) for line in open(predicted["output"])]
  _, labels = sklearn_digits(None).test
  accuracy = np.mean(np.asarray([r["top_k"][0]["index"] for r in rows]) == labels)
  assert accuracy == pytest.approx(result["int8"]["accuracy"], abs=1e-6)
  _assert_export_matches(config, output, str(tmp_path / "export"))


# --- bad input ------------------------------------------------------------------------------------

@pytest.mark.parametrize("flag,named", [("--config.quant.weights=int4", "quant.weights"),
                                        ("--config.quant.activations=fp8", "quant.activations")])
def test_an_invalid_quant_value_is_one_error_line(flag, named, tmp_path):
  workdir = str(tmp_path / "run")
  result = launch("--config=configs/lm_shakespeare_char.py:tiny", f"--workdir={workdir}", flag)
  line = one_error_line(result)
  assert named in line and "int8" in line
  assert not os.path.exists(workdir)


def test_quantize_refuses_an_occupied_output_and_bad_activations(quantized_lm):
  corpus, workdir, output, _ = quantized_lm
  before = file_checksums(output)
  result = launch("--config=configs/lm_shakespeare_char.py:tiny", f"--workdir={workdir}", "--mode=quantize",
                  f"--output={output}", f"--config.data.files={corpus}", "--config.data.name=files",
                  "--config.mesh.data=1")
  assert "exists and is not an empty folder" in one_error_line(result)
  assert file_checksums(output) == before
  result = launch("--config=configs/lm_shakespeare_char.py:tiny", f"--workdir={workdir}", "--mode=quantize",
                  "--activations=int4", f"--config.data.files={corpus}", "--config.data.name=files")
  assert "--activations" in one_error_line(result)
