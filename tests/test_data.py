"""IDX reading, dataset sources and the deterministic batch pipeline."""
import os

import ml_collections
import numpy as np
import pytest

from bigmodel_jax.data import sources
from bigmodel_jax.data.idx import parse_idx, read_idx, write_idx
from bigmodel_jax.data.pipeline import SupervisedData, load_supervised_data
from bigmodel_jax.errors import DataError
from conftest import FASHION_MNIST_DIR


def _data_cfg(name="digits", **kw):
  cfg = dict(name=name, data_dir="", tfds_name="", validation_size=100, normalize=True,
             crop_padding=0, horizontal_flip=False)
  cfg.update(kw)
  return ml_collections.ConfigDict(cfg)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, suffix):
  array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
  path = str(tmp_path / f"x-idx3-ubyte{suffix}")
  write_idx(path, array)
  np.testing.assert_array_equal(read_idx(path), array)


def test_idx_header_is_parsed_by_hand():
  raw = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
  np.testing.assert_array_equal(parse_idx(raw), [[0, 1, 2], [3, 4, 5]])


@pytest.mark.parametrize("raw, message", [
    (b"\x00\x00\x08\x01\x00\x00\x00\x05abc", "truncated or corrupt"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x02abc", "truncated or corrupt"),
    (b"\x12\x34\x08\x01", "bad magic"),
    (b"\x00\x00\x08\x03\x00\x00", "truncated IDX header"),
])
def test_idx_rejects_bad_bytes(raw, message):
  with pytest.raises(DataError, match=message):
    parse_idx(raw)


def test_corrupt_gzip_names_the_file(tmp_path):
  path = tmp_path / "train-labels-idx1-ubyte.gz"
  path.write_bytes(b"\x1f\x8b" + b"garbage" * 10)
  with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
    read_idx(str(path))


@pytest.mark.skipif(not os.path.isdir(FASHION_MNIST_DIR), reason="run `python -m launch.fetch_data` first")
def test_real_fashion_mnist_files():
  splits = sources.load_idx_classification(FASHION_MNIST_DIR, sources.FASHION_MNIST_CLASSES)
  assert splits.train[0].shape == (60000, 28, 28, 1) and splits.test[0].shape == (10000, 28, 28, 1)
  # Both splits are exactly balanced over the 10 classes.
  assert np.bincount(splits.train[1]).tolist() == [6000] * 10
  assert np.bincount(splits.test[1]).tolist() == [1000] * 10


def test_batches_are_a_function_of_seed_and_step():
  a = load_supervised_data(_data_cfg(), batch_size=32, seed=0)
  b = load_supervised_data(_data_cfg(), batch_size=32, seed=0)
  c = load_supervised_data(_data_cfg(), batch_size=32, seed=1)
  for step in (3, 80, 12):   # Visiting other steps (and epochs) first must not matter.
    a.train_batch(step)
  later = a.train_batch(57)
  np.testing.assert_array_equal(b.train_batch(57)["inputs"], later["inputs"])
  assert not np.array_equal(c.train_batch(57)["inputs"], later["inputs"])


def test_each_epoch_visits_examples_without_repeats():
  ids = np.arange(100, dtype=np.float32)[:, None]
  data = SupervisedData({"train": (ids, ids)}, None, np.zeros(1), np.ones(1), batch_size=32, seed=0)
  for epoch in range(2):
    seen = np.concatenate([data.train_batch(epoch * 3 + s)["targets"] for s in range(3)]).ravel()
    assert len(set(seen.tolist())) == 96    # 3 full batches; the last 4 examples are dropped.
  assert not np.array_equal(data.train_batch(0)["targets"], data.train_batch(3)["targets"])


def test_validation_is_held_out_of_train_and_test_is_untouched():
  data = load_supervised_data(_data_cfg(), batch_size=32, seed=0)
  raw = sources.sklearn_digits(None)
  assert len(data.splits["validation"][0]) == 100
  assert len(data.splits["train"][0]) + 100 == len(raw.train[0])
  assert len(data.splits["test"][0]) == len(raw.test[0])
  train = {r.tobytes() for r in data.splits["train"][0]}
  assert not any(r.tobytes() in train for r in data.splits["validation"][0])


def test_normalisation_uses_train_statistics():
  data = load_supervised_data(_data_cfg(), batch_size=32, seed=0)
  x = data.splits["train"][0]
  assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-3
  np.testing.assert_allclose(data.display_images("train").max(), 1.0, atol=1e-5)


def test_eval_batches_cover_a_split_once_with_padding_masked():
  data = load_supervised_data(_data_cfg(), batch_size=32, seed=0)
  batches = list(data.eval_batches("test", 64))
  assert all(len(b["inputs"]) == 64 for b in batches)
  kept = np.concatenate([b["targets"][b["mask"]] for b in batches])
  np.testing.assert_array_equal(kept, data.splits["test"][1])


def test_validation_size_must_fit():
  with pytest.raises(Exception, match="validation_size"):
    load_supervised_data(_data_cfg(validation_size=5000), batch_size=32, seed=0)


def test_tfds_source_through_mock_data(monkeypatch):
  tfds = pytest.importorskip("tensorflow_datasets")
  monkeypatch.setattr(sources, "_online", lambda: True)   # mock_data stands in for the download.
  with tfds.testing.mock_data(num_examples=24):
    splits = sources.tfds_image_classification(_data_cfg("tfds", tfds_name="mnist"))
  assert splits.train[0].shape[1:] == (28, 28, 1) and splits.train[0].dtype == np.uint8
  assert len(splits.train[0]) == 24 and len(splits.test[0]) == 24
  assert splits.class_names == [str(d) for d in range(10)]


def test_tfds_without_a_name_is_a_clear_error():
  with pytest.raises(DataError, match="tfds_name"):
    sources.tfds_image_classification(_data_cfg("tfds"))


def test_seed_alone_changes_the_order():
  ids = np.arange(100, dtype=np.float32)[:, None]
  orders = [SupervisedData({"train": (ids, ids)}, None, np.zeros(1), np.ones(1), batch_size=50, seed=seed)
            .train_batch(0)["targets"].ravel() for seed in (0, 0, 1)]
  np.testing.assert_array_equal(orders[0], orders[1])
  assert not np.array_equal(orders[0], orders[2])
