"""TFDS for real: `download_and_prepare` of MNIST from local files laid out as its download is,
then the project's `tfds` source, then a tiny training run; and the offline message without data."""
import gzip
import os
import struct

import numpy as np
import pytest

from bigmodel_jax.data import sources
from bigmodel_jax.engine import trainer
from bigmodel_jax.errors import DataError
from conftest import make_config

N_TRAIN, N_TEST = 64, 32


def _write_idx_gz(path: str, array: np.ndarray) -> None:
  """The IDX format of MNIST's download: magic (0x0803 images, 0x0801 labels), big-endian dims, bytes."""
  magic = 2051 if array.ndim == 3 else 2049
  with gzip.open(path, "wb") as f:
    f.write(struct.pack(f">I{array.ndim}I", magic, *array.shape))
    f.write(array.astype(np.uint8).tobytes())


def _mnist_download_folder(folder) -> dict:
  """The four .gz files MNIST's builder downloads, with learnable images (label = bright row band)."""
  rng = np.random.default_rng(7)
  arrays = {}
  for prefix, n in (("train", N_TRAIN), ("t10k", N_TEST)):
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 40, (n, 28, 28)).astype(np.uint8)
    for i, label in enumerate(labels):
      images[i, 2 * label:2 * label + 3] = 250
    _write_idx_gz(os.path.join(folder, f"{prefix}-images-idx3-ubyte.gz"), images)
    _write_idx_gz(os.path.join(folder, f"{prefix}-labels-idx1-ubyte.gz"), labels)
    arrays[prefix] = (images, labels)
  return arrays


@pytest.fixture(scope="module")
def prepared_mnist(tmp_path_factory):
  """MNIST prepared by TFDS's own builder; only the network fetch is replaced by the local folder."""
  tfds = pytest.importorskip("tensorflow_datasets")
  from tensorflow_datasets.image_classification import mnist as mnist_builder
  downloads, data_dir = tmp_path_factory.mktemp("mnist_download"), tmp_path_factory.mktemp("tfds")
  arrays = _mnist_download_folder(str(downloads))
  def from_local_folder(manager, urls):   # The real extraction of the downloaded .gz files follows.
    return manager.extract({k: os.path.join(downloads, os.path.basename(u)) for k, u in urls.items()})
  with pytest.MonkeyPatch.context() as patch:
    patch.setattr(tfds.download.DownloadManager, "download_and_extract", from_local_folder)
    patch.setattr(mnist_builder, "_TRAIN_EXAMPLES", N_TRAIN)   # The builder checks the counts it expects.
    patch.setattr(mnist_builder, "_TEST_EXAMPLES", N_TEST)
    patch.setattr(sources, "_online", lambda: True)
    sources.prepared_tfds_builder("mnist", str(data_dir))
  return str(data_dir), arrays


@pytest.mark.slow
def test_the_tfds_source_reads_what_the_builder_prepared(prepared_mnist):
  data_dir, arrays = prepared_mnist
  cfg = make_config("cnn_mnist", **{"data.data_dir": data_dir}).data
  splits = sources.tfds_image_classification(cfg)
  assert splits.train[0].shape == (N_TRAIN, 28, 28, 1) and splits.test[0].shape == (N_TEST, 28, 28, 1)
  assert sorted(splits.test[1].tolist()) == sorted(arrays["t10k"][1].tolist())
  assert splits.class_names == [str(d) for d in range(10)]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["cnn_mnist", "cnn_mnist_3x3"])
def test_the_source_mnist_cnns_train_on_prepared_tfds_data(prepared_mnist, name, tmp_path):
  config = make_config(name, **{"data.data_dir": prepared_mnist[0], "data.validation_size": 16,
                                "train.batch_size": 16, "eval.batch_size": 16})
  summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["step"] == config.train.num_steps and np.isfinite(summary["test"]["loss"])
  assert len(summary["test_details"]["per_class"]) == 10


def test_offline_without_prepared_data_is_one_line_with_the_command(tmp_path, monkeypatch):
  pytest.importorskip("tensorflow_datasets")
  monkeypatch.setattr(sources, "_online", lambda: False)
  cfg = make_config("cnn_mnist", **{"data.data_dir": str(tmp_path)}).data
  with pytest.raises(DataError) as error:
    sources.tfds_image_classification(cfg)
  message = str(error.value)
  assert "\n" not in message and "not prepared" in message
  assert f"python -m launch.fetch_data --dataset=mnist --dest={tmp_path}" in message
  assert not any(p.name != "downloads" for p in tmp_path.iterdir())   # Nothing written beside TFDS' own folder.
