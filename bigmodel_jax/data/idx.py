"""Reader for the IDX format of (Fashion-)MNIST, plain or gzipped, with strict validation."""
import gzip
import os
import zlib

import numpy as np

from bigmodel_jax.errors import DataError

# Third byte of the magic number -> element type. Big-endian, per the format.
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: str) -> bytes:
  try:
    with open(path, "rb") as f:
      raw = f.read()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
  except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
    raise DataError(f"cannot read IDX file {path}: {e}") from e


def parse_idx(raw: bytes, path: str = "<bytes>") -> np.ndarray:
  """Parses IDX bytes; raises DataError naming `path` if the header or size is wrong."""
  if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_DTYPES:
    raise DataError(f"{path} is not an IDX file (bad magic number)")
  ndim = raw[3]
  header = 4 + 4 * ndim
  if ndim == 0 or len(raw) < header:
    raise DataError(f"{path} has a truncated IDX header")
  shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
  dtype = np.dtype(IDX_DTYPES[raw[2]])
  expected = header + int(np.prod(shape)) * dtype.itemsize
  if len(raw) != expected:
    raise DataError(f"{path} is truncated or corrupt: {len(raw)} bytes, expected {expected} for shape {shape}")
  return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str) -> np.ndarray:
  return parse_idx(_read_bytes(path), path)


def write_idx(path: str, array: np.ndarray) -> None:
  """Writes a uint8 array as IDX (gzipped if `path` ends in .gz); used by tests and tools."""
  array = np.asarray(array, dtype=np.uint8)
  header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
  data = header + array.tobytes()
  opener = gzip.open if path.endswith(".gz") else open
  with opener(path, "wb") as f:
    f.write(data)


def find_idx_file(directory: str, stem: str) -> str:
  """Returns `<directory>/<stem>` or its .gz; DataError if neither exists."""
  for name in (stem, stem + ".gz"):
    path = os.path.join(directory, name)
    if os.path.isfile(path):
      return path
  raise DataError(
      f"{directory} has no {stem}[.gz]; fetch Fashion-MNIST with `python -m launch.fetch_data --dest={directory}`")
