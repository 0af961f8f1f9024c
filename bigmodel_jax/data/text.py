"""Text for language models: corpora, byte and character tokenizers, windows of a token stream.

A corpus is one string of bytes (files concatenated in sorted path order); the
first `1 - validation_fraction` of it is the train split, the rest validation.
Train windows are drawn on device (`workloads.lm.gather_batch`); validation is
read as consecutive, non-overlapping windows.
"""
import dataclasses
import glob
import os
from typing import Iterator

import numpy as np

from bigmodel_jax.config import checks as v
from bigmodel_jax.data.base import Data
from bigmodel_jax.errors import ConfigError, DataError

SHAKESPEARE_DEFAULT_DIR = os.path.join("data", "shakespeare")
SHAKESPEARE_FILE = "shakespeare.txt"


class ByteTokenizer:
  """256 symbols, one per byte: any text round-trips exactly through its UTF-8 bytes."""
  vocab_size = 256

  def encode(self, text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int32)

  def decode(self, ids) -> str:
    return bytes(int(i) for i in ids).decode("utf-8", errors="replace")

  def codes(self) -> np.ndarray:
    return np.arange(256, dtype=np.int32)


class CharTokenizer:
  """One symbol per distinct character of the corpus, in code point order."""

  def __init__(self, codes):
    self.chars = [chr(int(c)) for c in codes]
    self.index = {ch: i for i, ch in enumerate(self.chars)}
    self.vocab_size = len(self.chars)

  @classmethod
  def from_text(cls, text: str) -> "CharTokenizer":
    return cls(sorted(ord(c) for c in set(text)))

  def encode(self, text: str) -> np.ndarray:
    unknown = sorted(set(text) - set(self.index))
    if unknown:
      raise DataError(f"text has {len(unknown)} character(s) outside the run's vocabulary of "
                      f"{self.vocab_size}: {''.join(unknown)[:20]!r}")
    return np.array([self.index[c] for c in text], np.int32)

  def decode(self, ids) -> str:
    return "".join(self.chars[int(i)] for i in ids)

  def codes(self) -> np.ndarray:
    return np.array([ord(c) for c in self.chars], np.int32)


def tokenizer_from_codes(kind: str, codes):
  """The tokenizer a run saved (its vocabulary travels in the checkpoint as code points)."""
  return ByteTokenizer() if kind == "byte" else CharTokenizer(codes)


def _read_files(paths: list[str], what: str) -> bytes:
  if not paths:
    raise DataError(f"{what}: no files found")
  return b"".join(open(p, "rb").read() for p in paths)


def shakespeare_corpus(cfg) -> bytes:
  path = os.path.join(cfg.data_dir or SHAKESPEARE_DEFAULT_DIR, SHAKESPEARE_FILE)
  if not os.path.exists(path):
    raise DataError(f"{path} not found; run `python -m launch.fetch_data --dataset=shakespeare` (or launch/setup.sh)")
  return _read_files([path], path)


def files_corpus(cfg) -> bytes:
  """`data.files`: comma-separated paths or globs, concatenated in sorted order."""
  patterns = [p.strip() for p in cfg.files.split(",") if p.strip()]
  paths = sorted({p for pattern in patterns for p in glob.glob(os.path.expanduser(pattern))})
  paths = [p for p in paths if os.path.isfile(p)]
  return _read_files(paths, f"data.files={cfg.files!r}")


def tfds_corpus(cfg) -> bytes:
  """A TFDS text dataset by name (tiny_shakespeare, lm1b): its train and validation/test text, joined."""
  try:
    import tensorflow_datasets as tfds
  except ImportError as e:
    raise DataError("data.name='tfds' needs tensorflow_datasets (pip install tensorflow-datasets)") from e
  try:
    builder = tfds.builder(cfg.tfds_name, data_dir=cfg.data_dir or None)
    builder.download_and_prepare()
    parts = []
    for split in ("train", "validation", "test"):
      if split in builder.info.splits:
        for row in tfds.as_numpy(builder.as_dataset(split=split)):
          parts.append(row["text"] if isinstance(row["text"], bytes) else str(row["text"]).encode())
  except Exception as e:  # noqa: BLE001  (TFDS raises many kinds; all mean "not available")
    raise DataError(f"TFDS dataset {cfg.tfds_name!r} could not be loaded: {str(e).splitlines()[0]}") from e
  return b"\n".join(parts)


CORPORA = {"shakespeare": shakespeare_corpus, "files": files_corpus, "tfds": tfds_corpus}

# The `data` section of language models.
DATA_SECTION = dict(
    name=("shakespeare", v.one_of(*sorted(CORPORA))),   # shakespeare | files | tfds
    data_dir=("", v.STRING),                 # "" = data/shakespeare (launch.fetch_data --dataset=shakespeare).
    files=("", v.STRING),                    # name == "files": comma-separated paths or globs.
    tfds_name=("", v.STRING),                # name == "tfds": e.g. tiny_shakespeare, lm1b.
    tokenizer=("char", v.one_of("char", "byte")),   # char (the corpus's characters) | byte (256 symbols)
    validation_fraction=(0.1, v.real_in(0.0, 1.0, low_open=True, high_open=True)),  # The corpus's last part.
    seq_len=(128, v.POSITIVE_INT),           # Context: tokens per training window.
    eval_windows=(500, v.int_or_minus_one()),  # Validation windows per evaluation (-1 = the whole split).
)


@dataclasses.dataclass(frozen=True)
class LMSpec:
  vocab_size: int
  seq_len: int
  num_train_tokens: int
  num_val_tokens: int
  tokenizer: str        # char | byte
  codes: tuple = dataclasses.field(repr=False)  # The vocabulary: the code point (or byte) of each token id.


@dataclasses.dataclass
class LMData(Data):
  train_tokens: np.ndarray
  val_tokens: np.ndarray
  tokenizer: object
  spec: LMSpec
  eval_windows: int

  def device_arrays(self) -> dict:
    return {"tokens": self.train_tokens}

  def facts(self) -> dict:
    """The vocabulary: which character (or byte) each token id stands for."""
    return {"tokenizer": self.spec.tokenizer, "vocabulary": list(self.spec.codes)}

  def num_eval_windows(self) -> int:
    available = (len(self.val_tokens) - 1) // self.spec.seq_len
    return available if self.eval_windows == -1 else min(available, self.eval_windows)

  def eval_batches(self, split: str, batch_size: int) -> Iterator[dict]:
    """Consecutive non-overlapping windows of the validation text; the last batch padded and masked."""
    del split  # One held-out split.
    n, length = self.num_eval_windows(), self.spec.seq_len
    starts = np.arange(n) * length
    for first in range(0, n, batch_size):
      rows = starts[first:first + batch_size]
      mask = np.ones(batch_size, bool)
      mask[len(rows):] = False
      rows = np.concatenate([rows, np.zeros(batch_size - len(rows), rows.dtype)])
      windows = np.stack([self.val_tokens[s:s + length + 1] for s in rows]).astype(np.int32)
      yield {"inputs": windows[:, :-1], "targets": windows[:, 1:], "mask": mask}


def decode_corpus(raw: bytes, kind: str, what: str):
  """(tokens, tokenizer) of a corpus; an empty or (for characters) non-UTF-8 corpus is a DataError."""
  if not raw:
    raise DataError(f"{what}: the corpus is empty")
  if kind == "byte":
    return np.frombuffer(raw, np.uint8), ByteTokenizer()
  try:
    text = raw.decode("utf-8")
  except UnicodeDecodeError as e:
    raise DataError(f"{what}: not UTF-8 text at byte {e.start}; use data.tokenizer='byte' for raw bytes") from e
  tokenizer = CharTokenizer.from_text(text)
  dtype = np.uint8 if tokenizer.vocab_size <= 256 else np.int32
  return tokenizer.encode(text).astype(dtype), tokenizer


def load_lm_data(data_cfg) -> LMData:
  if data_cfg.name not in CORPORA:
    raise ConfigError(f"data.name={data_cfg.name!r}; choose one of {sorted(CORPORA)}")
  raw = CORPORA[data_cfg.name](data_cfg)
  tokens, tokenizer = decode_corpus(raw, data_cfg.tokenizer, f"data.name={data_cfg.name!r}")
  split = int(len(tokens) * (1 - data_cfg.validation_fraction))
  train, val = tokens[:split], tokens[split:]
  need = data_cfg.seq_len + 1
  if len(train) < need or len(val) < need:
    raise DataError(f"the corpus ({len(tokens)} tokens: {len(train)} train, {len(val)} validation) is "
                    f"shorter than one window of data.seq_len + 1 = {need} tokens in each split")
  spec = LMSpec(tokenizer.vocab_size, data_cfg.seq_len, len(train), len(val), data_cfg.tokenizer,
                tuple(int(c) for c in tokenizer.codes()))
  return LMData(train, val, tokenizer, spec, data_cfg.eval_windows)
