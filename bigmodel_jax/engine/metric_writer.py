"""Metrics to `<workdir>/metrics.jsonl` and TensorBoard event files (tensorboardX; no TensorFlow)."""
import json
import os

import jax
import numpy as np

from bigmodel_jax.engine import files

METRICS_FILE = "metrics.jsonl"


def _truncate_after(path: str, step: int) -> None:
  """Drops rows logged after `step` (a resumed run logs them again from its checkpoint on) and a
  last row cut short by a crash; the file is replaced in one step, so no row is ever lost twice."""
  if os.path.exists(path):
    files.write_lines(path, [json.dumps(r) + "\n" for r in files.read_jsonl(path) if r["step"] <= step])


class MetricWriter:
  """Writes scalar metrics from process 0; other processes' writes are no-ops."""

  def __init__(self, workdir: str, resume_step: int = 0):
    self._enabled = jax.process_index() == 0
    self._path = os.path.join(workdir, METRICS_FILE)
    self._tb = None
    if self._enabled:
      from tensorboardX import SummaryWriter
      _truncate_after(self._path, resume_step)
      self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

  def write(self, step: int, metrics: dict) -> None:
    if not self._enabled or not metrics:
      return
    scalars = {k: float(np.asarray(v)) for k, v in metrics.items()}
    with open(self._path, "a") as f:
      f.write(json.dumps({"step": int(step), **scalars}) + "\n")
    for key, value in scalars.items():
      self._tb.add_scalar(key, value, step)
    self._tb.flush()

  def write_images(self, step: int, name: str, image_HxWxC) -> None:
    """One image (float in [0, 1], e.g. a sample grid) to TensorBoard."""
    if self._enabled:
      self._tb.add_image(name, np.asarray(image_HxWxC, np.float32), step, dataformats="HWC")
      self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def read_metrics(workdir: str) -> list[dict]:
  return files.read_jsonl(os.path.join(workdir, METRICS_FILE))


def metric_series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
  rows = [r for r in history if key in r]
  return [r["step"] for r in rows], [r[key] for r in rows]
