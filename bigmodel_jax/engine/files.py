"""Files a run writes, written so that a crash at any moment leaves either the old file or the new one.

A file is written beside its target under a temporary name, flushed to disk and
renamed over the target (an atomic step on POSIX file systems). The metrics log is
appended to line by line; a line cut short by a crash is the only damage it can take,
and readers skip it.
"""
import json
import os
import tempfile
from typing import Callable

from bigmodel_jax.errors import DataError


def _write_atomically(path: str, write: Callable) -> None:
  folder = os.path.dirname(os.path.abspath(path))
  handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=folder)
  try:
    with os.fdopen(handle, "w") as f:
      write(f)
      f.flush()
      os.fsync(f.fileno())
    os.replace(temporary, path)
  except BaseException:
    if os.path.exists(temporary):
      os.remove(temporary)
    raise


def write_json(path: str, value, **dump_options) -> None:
  _write_atomically(path, lambda f: json.dump(value, f, **dump_options))


def write_text(path: str, text: str) -> None:
  _write_atomically(path, lambda f: f.write(text))


def write_lines(path: str, lines: list) -> None:
  _write_atomically(path, lambda f: f.writelines(lines))


def read_jsonl(path: str) -> list:
  """The JSON rows of a log; a last line cut short by a crash is skipped, damage elsewhere is an error."""
  if not os.path.exists(path):
    return []
  with open(path) as f:
    lines = [line for line in f if line.strip()]
  rows = []
  for i, line in enumerate(lines):
    try:
      rows.append(json.loads(line))
    except json.JSONDecodeError as e:
      if i != len(lines) - 1:
        raise DataError(f"{path} line {i + 1} is not JSON ({e}); move the file aside to start a new log") from e
  return rows
