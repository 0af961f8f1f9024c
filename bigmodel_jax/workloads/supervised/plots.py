"""The classifier's PNG plots: the confusion matrix and the "true - predicted" grid of test images."""
import numpy as np

from bigmodel_jax.engine.plots import plt


def plot_confusion_matrix(cm: np.ndarray, class_names: list[str], path: str) -> None:
  fig, ax = plt.subplots(figsize=(7, 6))
  ax.imshow(cm, cmap="Blues")
  ticks = np.arange(len(class_names))
  ax.set_xticks(ticks, class_names, rotation=60, ha="right")
  ax.set_yticks(ticks, class_names)
  ax.set_xlabel("predicted")
  ax.set_ylabel("true")
  for (i, j), count in np.ndenumerate(cm):
    ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
            color="white" if count > cm.max() / 2 else "black")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def plot_prediction_grid(images, labels, predictions, class_names, path: str, rows: int = 5) -> None:
  """A rows x rows grid of images titled "true - predicted" (red where wrong)."""
  fig, axes = plt.subplots(rows, rows, figsize=(2.2 * rows, 2.4 * rows))
  for ax, image, label, pred in zip(axes.flat, images, labels, predictions):
    ax.imshow(image.squeeze(), cmap="gray" if image.shape[-1] == 1 else None)
    ax.set_title(f"{class_names[label]} - {class_names[pred]}", fontsize=8,
                 color="black" if label == pred else "red")
    ax.axis("off")
  for ax in axes.flat[len(images):]:
    ax.axis("off")
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
