"""Metrics to `<workdir>/metrics.jsonl` and TensorBoard event files (tensorboardX; no TensorFlow)."""
import json
import os

import jax
import numpy as np

METRICS_FILE = "metrics.jsonl"


def _truncate_after(path: str, step: int) -> None:
  """Drops lines logged after `step`: a resumed run rewrites them from the checkpoint on."""
  if not os.path.exists(path):
    return
  with open(path) as f:
    kept = [line for line in f if line.strip() and json.loads(line)["step"] <= step]
  with open(path, "w") as f:
    f.writelines(kept)


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
  path = os.path.join(workdir, METRICS_FILE)
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def metric_series(history: list[dict], key: str) -> tuple[list[int], list[float]]:
  rows = [r for r in history if key in r]
  return [r["step"] for r in rows], [r[key] for r in rows]
