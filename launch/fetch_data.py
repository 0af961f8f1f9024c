r"""Puts the Fashion-MNIST IDX files into a local folder (default data/fashion_mnist).

  python -m launch.fetch_data [--dest=data/fashion_mnist]

Tries, in order: files already there; the Debian package `dataset-fashion-mnist`
(`apt-get download` + `dpkg-deb -x`, no root needed); the dataset's public IDX
files over HTTP. Every file is read back and checked before it counts.
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request

from absl import app, flags

from bigmodel_jax.data.sources import FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, load_idx_classification
from bigmodel_jax.errors import DataError

_DEST = flags.DEFINE_string("dest", FASHION_MNIST_DEFAULT_DIR, "Folder to put the four .gz IDX files in.")

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


def main(argv):
  del argv
  try:
    how = fetch(_DEST.value)
  except DataError as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)
  print(f"Fashion-MNIST ready in {_DEST.value} ({how})")


if __name__ == "__main__":
  app.run(main)
