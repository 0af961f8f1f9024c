"""Dataset sources: each returns the raw train and test arrays of one dataset.

Images come back as uint8 NHWC, labels as int. The registry `SOURCES` maps
`config.data.name` to a loader taking the `data` config section.
"""
import dataclasses
import os
import socket
from typing import Optional

import numpy as np

from bigmodel_jax.config.checks import Check
from bigmodel_jax.data.idx import find_idx_file, read_idx
from bigmodel_jax.errors import DataError

FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
FASHION_MNIST_DEFAULT_DIR = "data/fashion_mnist"
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte",
}


@dataclasses.dataclass
class RawSplits:
  """Arrays straight from a source. `validation` is set only where a source fixes its own."""
  train: tuple[np.ndarray, np.ndarray]
  test: tuple[np.ndarray, np.ndarray]
  class_names: Optional[list[str]]          # None for regression.
  validation: Optional[tuple[np.ndarray, np.ndarray]] = None


def _check_pair(images, labels, what, num_classes=None):
  if len(images) != len(labels):
    raise DataError(f"{what}: {len(images)} images but {len(labels)} labels")
  if len(images) == 0:
    raise DataError(f"{what} is empty")
  if num_classes is not None and (labels.min() < 0 or labels.max() >= num_classes):
    raise DataError(f"{what}: labels outside [0, {num_classes})")


def load_idx_classification(data_dir: str, class_names: list[str]) -> RawSplits:
  """Reads the four (Fashion-)MNIST IDX files (plain or .gz) from `data_dir`."""
  if not os.path.isdir(data_dir):
    raise DataError(
        f"data directory {data_dir} does not exist; fetch Fashion-MNIST with "
        f"`python -m launch.fetch_data --dest={data_dir}`")
  arrays = {k: read_idx(find_idx_file(data_dir, stem)) for k, stem in FASHION_MNIST_FILES.items()}
  splits = {}
  for split in ("train", "test"):
    images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
    if images.ndim != 3 or labels.ndim != 1:
      raise DataError(f"{data_dir}: {split} images must be N x H x W and labels N, got "
                      f"{images.shape} and {labels.shape}")
    _check_pair(images, labels, f"{data_dir} {split} split", len(class_names))
    splits[split] = (images[..., None], labels.astype(np.int32))
  return RawSplits(splits["train"], splits["test"], class_names)


def fashion_mnist(cfg) -> RawSplits:
  return load_idx_classification(cfg.data_dir or FASHION_MNIST_DEFAULT_DIR, FASHION_MNIST_CLASSES)


# TFDS serves most datasets from this host; if it does not answer, downloading would only retry for minutes.
TFDS_PROBE_HOST = ("storage.googleapis.com", 443)


def _online() -> bool:
  try:
    socket.create_connection(TFDS_PROBE_HOST, timeout=3).close()
    return True
  except OSError:
    return False


def tfds_prepare_command(name: str, data_dir: str) -> str:
  """The command that prepares `name` for `tfds_image_classification` (needs internet, once).
  Not `tfds build`: TFDS's command line imports apache_beam, which TFDS does not install."""
  where = f" --dest={data_dir}" if data_dir else ""
  return f"python -m launch.fetch_data --dataset={name}{where}"


def prepared_tfds_builder(name: str, data_dir: str):
  """The TFDS builder of `name` with its data prepared (random access array_record files), preparing it
  on first use; offline and unprepared is one DataError with the command that fixes it."""
  import tensorflow_datasets as tfds  # Heavy import; only this source needs it.
  try:
    builder = tfds.builder(name, data_dir=data_dir or None, file_format="array_record")
  except Exception as e:  # Unknown names, missing optional modules.
    raise DataError(f"cannot load TFDS dataset {name!r}: {type(e).__name__}: {_first_line(e)}") from e
  if builder.is_prepared():
    return builder
  if not _online():
    raise DataError(f"TFDS dataset {name!r} is not prepared in {builder.data_dir} and there is no network to "
                    f"download it; prepare it once online with: {tfds_prepare_command(name, data_dir)}")
  try:
    builder.download_and_prepare()
  except Exception as e:  # TFDS raises many types: network, checksums, missing optional modules.
    raise DataError(f"cannot prepare TFDS dataset {name!r}: {type(e).__name__}: {_first_line(e)}") from e
  return builder


def _first_line(error: Exception) -> str:
  text = str(error).strip()
  return text.splitlines()[0] if text else ""


def tfds_image_classification(cfg) -> RawSplits:
  """Any TFDS dataset with `image` and `label` features, read through its random-access data source.

  Needs no TensorFlow to read; preparing on first use downloads (internet) and needs tensorflow-cpu.
  """
  if not cfg.tfds_name:
    raise DataError("data.name='tfds' needs data.tfds_name (e.g. 'mnist', 'cifar10')")
  builder = prepared_tfds_builder(cfg.tfds_name, cfg.data_dir)
  names = builder.info.features["label"].names
  splits = []
  for split in ("train", "test"):
    source = builder.as_data_source(split=split)
    records = [source[i] for i in range(len(source))]
    images = np.stack([r["image"] for r in records]).astype(np.uint8)
    labels = np.asarray([r["label"] for r in records], dtype=np.int32)
    _check_pair(images, labels, f"TFDS {cfg.tfds_name} {split}", len(names))
    splits.append((images if images.ndim == 4 else images[..., None], labels))
  return RawSplits(splits[0], splits[1], list(names))


def _fixed_holdout(n: int, test_fraction: float):
  """A test split that never depends on the experiment seed."""
  order = np.random.default_rng(0).permutation(n)
  n_test = int(round(n * test_fraction))
  return order[n_test:], order[:n_test]


def sklearn_digits(cfg) -> RawSplits:
  """scikit-learn's bundled 8x8 digits (1797 images), 20% held out as a fixed test split."""
  del cfg
  from sklearn.datasets import load_digits
  digits = load_digits()
  images = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
  labels = digits.target.astype(np.int32)
  train, test = _fixed_holdout(len(images), 0.2)
  return RawSplits((images[train], labels[train]), (images[test], labels[test]),
                   [str(d) for d in range(10)])


def synthetic_images(cfg) -> RawSplits:
  """Learnable 16x16x1 images: each of 4 classes lights up one quadrant, plus noise. For tests."""
  del cfg
  rng = np.random.default_rng(1234)
  def make(n):
    labels = rng.integers(0, 4, size=n).astype(np.int32)
    images = rng.integers(0, 64, size=(n, 16, 16, 1))
    for cls in range(4):
      r, c = divmod(cls, 2)
      images[labels == cls, r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] += 160
    return images.astype(np.uint8), labels
  return RawSplits(make(512), make(128), ["top-left", "top-right", "bottom-left", "bottom-right"])


def linear_regression(cfg) -> RawSplits:
  """The source material's regression example: x = 1..5, y = 2x; tested on the midpoints."""
  del cfg
  x_train = np.arange(1, 6, dtype=np.float32)[:, None]
  x_test = np.arange(1.5, 5, dtype=np.float32)[:, None]
  train = (x_train, 2 * x_train)
  # Five points leave nothing to hold out; validation watches the fit on the training points.
  return RawSplits(train, (x_test, 2 * x_test), None, validation=train)


IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
FOLDER_HOLDOUT = 0.1   # Share of a folder's images held out (fixed, seed-independent) for validation and test.


def _image_files(folder: str) -> list[str]:
  return sorted(f for f in os.listdir(folder)
                if f.lower().endswith(IMAGE_EXTENSIONS) and os.path.isfile(os.path.join(folder, f)))


def _folder_classes(root: str) -> tuple[list[str], list[list[str]]]:
  """(class names, files per class): one class per subfolder holding images, else one class `images`."""
  subfolders = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))
                      and _image_files(os.path.join(root, d)))
  if subfolders:
    return subfolders, [[os.path.join(root, d, f) for f in _image_files(os.path.join(root, d))]
                        for d in subfolders]
  return ["images"], [[os.path.join(root, f) for f in _image_files(root)]]


def read_image(path: str, size: int, channels: int) -> np.ndarray:
  """One PNG/JPEG file as uint8 size x size x channels (resized with a Lanczos filter)."""
  from PIL import Image   # Only this source decodes image files.
  try:
    with Image.open(path) as image:
      image = image.convert("L" if channels == 1 else "RGB").resize((size, size), Image.Resampling.LANCZOS)
      array = np.asarray(image, np.uint8)
  except (OSError, SyntaxError, ValueError) as e:   # PIL's errors for truncated or foreign files.
    raise DataError(f"{path}: not a readable PNG/JPEG image ({type(e).__name__}); remove or replace the file")
  return array.reshape(size, size, channels)


def image_folder(cfg) -> RawSplits:
  """PNG/JPEG files under `data_dir` (one class per subfolder, or one class when the files lie in
  it directly), resized to image_size x image_size with image_channels channels. A fixed tenth is held
  out and serves as both validation and test split."""
  root = cfg.data_dir
  if not os.path.isdir(root):
    raise DataError(f"data.data_dir={root!r} is not a folder; data.name='folder' reads PNG/JPEG files from one")
  names, files = _folder_classes(root)
  paths = [p for group in files for p in group]
  if len(paths) < 2:
    raise DataError(f"data.data_dir={root!r} holds {len(paths)} PNG/JPEG file(s) (directly or one subfolder "
                    f"deep); at least 2 are needed")
  images = np.stack([read_image(p, cfg.image_size, cfg.image_channels) for p in paths])
  labels = np.concatenate([np.full(len(group), c, np.int32) for c, group in enumerate(files)])
  train, test = _fixed_holdout(len(images), FOLDER_HOLDOUT)
  if len(test) == 0:
    train, test = train[1:], train[:1]
  held_out = (images[test], labels[test])
  return RawSplits((images[train], labels[train]), held_out, names, validation=held_out)


def xor_truth_table(cfg) -> RawSplits:
  """The source material's 2-2-1 example: XOR's four rows; train and test are the whole table."""
  del cfg
  x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
  y = np.array([[0], [1], [1], [0]], dtype=np.float32)
  # Four rows leave nothing to hold out: the task is to fit the table itself.
  return RawSplits((x, y), (x, y), None, validation=(x, y))


# Keys a source needs beyond the supervised data section's (bigmodel_jax.validation).
SOURCE_CHECKS = {
    "tfds": {"tfds_name": Check("a TFDS dataset name, e.g. 'mnist'", lambda s: isinstance(s, str) and bool(s))},
    "folder": {"data_dir": Check("a folder of PNG/JPEG files", lambda s: isinstance(s, str) and bool(s)),
               "image_size": Check("an image side in pixels >= 4", lambda n: isinstance(n, int) and n >= 4),
               "image_channels": Check("1 (grey) or 3 (RGB)", lambda n: n in (1, 3))},
}

SOURCES = {
    "fashion_mnist": fashion_mnist,
    "tfds": tfds_image_classification,
    "digits": sklearn_digits,
    "folder": image_folder,
    "synthetic": synthetic_images,
    "linear_regression": linear_regression,
    "xor": xor_truth_table,
}
