"""PNG plots every workload may write into its workdir: training curves and image grids."""
import matplotlib

matplotlib.use("Agg")  # Files only; no display needed.
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from bigmodel_jax.engine.metric_writer import metric_series  # noqa: E402


def plot_curves(history: list[dict], names: list[str], path: str) -> None:
  """One panel per metric name, train and validation curves against the step (and min-max bands)."""
  fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
  for ax, name in zip(axes[0], names):
    for split in ("train", "val"):
      steps, values = metric_series(history, f"{split}/{name}")
      if steps:
        ax.plot(steps, values, marker="." if split == "val" else None, label=split)
      low, high = metric_series(history, f"{split}/{name}_min")[1], metric_series(history, f"{split}/{name}_max")[1]
      if steps and len(low) == len(high) == len(steps):   # A metric with a seed axis: its spread.
        ax.fill_between(steps, low, high, alpha=0.25, label=f"{split} min-max")
    ax.set_xlabel("step")
    ax.set_title(name)
    ax.legend()
    ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def save_image_grid(images_NxHxWxC, path: str, cols: int, pad: int = 2) -> np.ndarray:
  """Tiles images in [0, 1] into rows of `cols` (gaps of `pad` pixels), saves the PNG, returns the tile (HxWx3)."""
  images = np.clip(np.asarray(images_NxHxWxC, np.float32), 0.0, 1.0)
  if images.shape[-1] == 1:
    images = np.repeat(images, 3, axis=-1)
  n, h, w, c = images.shape
  rows = -(-n // cols)
  grid = np.ones((rows * (h + pad) + pad, cols * (w + pad) + pad, c), np.float32)
  for i, image in enumerate(images):
    r, q = divmod(i, cols)
    grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + q * (w + pad):pad + q * (w + pad) + w] = image
  plt.imsave(path, grid)
  return grid
