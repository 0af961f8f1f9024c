"""--mode=predict of a classifier and --mode=export of the classifier, the LM, the DCGAN and k-means.

Each model is trained once (tiny configs) and exported once by the module fixture; the
round-trip test loads every artefact in a fresh process that imports only jax and numpy.
"""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bigmodel_jax.data.sources import sklearn_digits
from bigmodel_jax.engine import trainer
from bigmodel_jax.errors import UserError
from conftest import load_config, make_config

# Loads an artefact with jax and numpy alone and writes its outputs for the example inputs.
LOADER = """
import json, os, sys
meta = json.load(open(os.path.join(sys.argv[1], "metadata.json")))
os.environ["XLA_FLAGS"] = " ".join(meta["xla_flags"])   # The kernels the outputs were computed with.
import jax, numpy as np
exported = jax.export.deserialize(bytearray(open(os.path.join(sys.argv[1], "model.jaxexport"), "rb").read()))
x = np.load(os.path.join(sys.argv[1], "example_inputs.npy"))
np.save(sys.argv[2], np.asarray(exported.call(x)))
np.save(sys.argv[3], np.asarray(exported.call(x[:3])))
assert not any(m.split(".")[0] == "bigmodel_jax" for m in sys.modules), "imported bigmodel_jax"
"""


def _lm_config(tmp_path_factory):
  corpus = tmp_path_factory.mktemp("corpus") / "text.txt"
  corpus.write_text("\n".join("the king shall speak of love and night." for _ in range(200)))
  config = load_config("lm_shakespeare_char", "tiny")
  config.data.name, config.data.files = "files", str(corpus)
  config.mesh.update(dict(data=1, model=1))
  return config


class ExportedRuns:
  """[name] -> (workdir, summary, artefact folder) of a tiny run of that model, trained and
  exported at its first use (the fast tests need only the classifier)."""

  def __init__(self, tmp_path_factory):
    self.tmp_path_factory, self.runs = tmp_path_factory, {}

  def config(self, name):
    if name == "lm":
      return _lm_config(self.tmp_path_factory)
    return {"cnn": lambda: make_config("cnn_digits"), "kmeans": lambda: make_config("kmeans_digits"),
            "dcgan": lambda: make_config("dcgan_fashion_mnist", **{"mesh.data": 1})}[name]()

  def __getitem__(self, name):
    if name not in self.runs:
      config, workdir = self.config(name), str(self.tmp_path_factory.mktemp(name))
      summary = trainer.train_and_evaluate(config, workdir)
      result = trainer.train_and_evaluate(config, workdir, mode="export")
      self.runs[name] = (workdir, summary, result["output"])
    return self.runs[name]


@pytest.fixture(scope="module")
def exported_runs(tmp_path_factory):
  return ExportedRuns(tmp_path_factory)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn", "lm", "dcgan", "kmeans"])
def test_export_round_trip_is_bit_identical_without_bigmodel_jax(exported_runs, name, tmp_path):
  folder = exported_runs[name][2]
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH="")
  outputs, first3 = str(tmp_path / "out.npy"), str(tmp_path / "first3.npy")
  result = subprocess.run([sys.executable, "-c", LOADER, folder, outputs, first3], cwd=str(tmp_path), env=env,
                          capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  expected = np.load(os.path.join(folder, "example_outputs.npy"))
  got = np.load(outputs)
  assert got.dtype == expected.dtype and got.shape == expected.shape
  np.testing.assert_array_equal(got, expected)   # Bit for bit.
  assert np.load(first3).shape == (3,) + expected.shape[1:]   # The batch dimension is symbolic.


def test_export_metadata_names_the_run(exported_runs):
  workdir, _, folder = exported_runs["cnn"]
  meta = json.load(open(os.path.join(folder, "metadata.json")))
  assert meta["input_shape"] == [8, 8, 1] and meta["input_dtype"] == "float32"
  assert meta["classes"] == [str(d) for d in range(10)]
  assert meta["run"]["workdir"] == os.path.abspath(workdir) and meta["run"]["step"] > 0


@pytest.mark.slow
def test_exported_kmeans_agrees_with_predict_mode(exported_runs):
  workdir, _, folder = exported_runs["kmeans"]
  config = make_config("kmeans_digits")
  predicted = os.path.join(workdir, "mine.npy")
  trainer.train_and_evaluate(config, workdir, mode="predict",
                             options={"input": os.path.join(folder, "example_inputs.npy"), "output": predicted})
  np.testing.assert_array_equal(np.load(predicted), np.load(os.path.join(folder, "example_outputs.npy")))


def _write_pngs(images, folder) -> list:
  from PIL import Image
  os.makedirs(folder)
  names = [os.path.join(folder, f"{i:04d}.png") for i in range(len(images))]
  for name, image in zip(names, images):
    Image.fromarray(image[..., 0]).save(name)
  return names


def _top1(path) -> list:
  with open(path) as f:
    return [json.loads(line)["top_k"][0] for line in f]


def test_predict_on_test_split_pngs_gives_eval_accuracy(exported_runs, tmp_path):
  workdir, summary, _ = exported_runs["cnn"]
  images, labels = sklearn_digits(None).test
  _write_pngs(images, str(tmp_path / "pngs"))
  out = str(tmp_path / "predictions.jsonl")
  trainer.train_and_evaluate(make_config("cnn_digits"), workdir, mode="predict",
                             options={"input": str(tmp_path / "pngs"), "output": out, "top_k": 3})
  top1 = _top1(out)
  assert len(top1) == len(labels)
  accuracy = np.mean([int(t["class"]) == y for t, y in zip(top1, labels)])
  assert accuracy == pytest.approx(summary["test"]["accuracy"], abs=1e-9)


def test_predict_npy_batch_matches_the_exported_probabilities(exported_runs, tmp_path):
  workdir, _, folder = exported_runs["cnn"]
  x = np.load(os.path.join(folder, "example_inputs.npy"))
  np.save(tmp_path / "x.npy", x)
  out = str(tmp_path / "p.jsonl")
  trainer.train_and_evaluate(make_config("cnn_digits"), workdir, mode="predict",
                             options={"input": str(tmp_path / "x.npy"), "output": out, "top_k": 10})
  expected = np.load(os.path.join(folder, "example_outputs.npy"))
  with open(out) as f:
    rows = [json.loads(line)["top_k"] for line in f]
  got = np.zeros_like(expected)
  for i, row in enumerate(rows):
    for entry in row:
      got[i, entry["index"]] = entry["probability"]
  np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("make_input, message", [
    (lambda d: os.path.join(d, "missing.png"), "expected an image file"),
    (lambda d: _save(os.path.join(d, "bad.npy"), np.zeros((2, 5, 5), np.uint8)), "has shape (2, 5, 5)"),
    (lambda d: _save(os.path.join(d, "nan.npy"), np.full((1, 8, 8, 1), np.nan, np.float32)), "finite floats"),
    (lambda d: _touch(os.path.join(d, "empty")), "folder without"),
    (lambda d: _corrupt_png(d), "not a readable image"),
])
def test_predict_bad_input_is_one_error_naming_the_flag(exported_runs, tmp_path, make_input, message):
  workdir = exported_runs["cnn"][0]
  before = sorted(os.listdir(workdir))
  with pytest.raises(UserError, match="--input") as error:
    trainer.train_and_evaluate(make_config("cnn_digits"), workdir, mode="predict",
                               options={"input": make_input(str(tmp_path))})
  assert message in str(error.value)
  assert sorted(os.listdir(workdir)) == before


def _save(path, array):
  np.save(path, array)
  return path


def _touch(folder):
  os.makedirs(folder)
  return folder


def _corrupt_png(folder):
  path = os.path.join(folder, "x.png")
  with open(path, "wb") as f:
    f.write(b"\x89PNG not really")
  return path
