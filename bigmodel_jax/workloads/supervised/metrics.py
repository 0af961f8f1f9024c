"""Confusion matrix and per-class precision, recall and F1 (host-side NumPy)."""
import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
  """Rows are true classes, columns predicted classes."""
  cm = np.zeros((num_classes, num_classes), dtype=np.int64)
  np.add.at(cm, (labels, predictions), 1)
  return cm


def precision_recall_f1(cm: np.ndarray) -> dict:
  """Per-class arrays plus their macro averages; 0 where a class is never predicted / present."""
  tp = np.diag(cm).astype(np.float64)
  predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
  precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
  recall = np.divide(tp, actual, out=np.zeros_like(tp), where=actual > 0)
  denom = precision + recall
  f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
  return {"precision": precision, "recall": recall, "f1": f1,
          "macro_precision": precision.mean(), "macro_recall": recall.mean(), "macro_f1": f1.mean()}
