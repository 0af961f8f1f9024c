"""--mode=predict of a classifier: top-k classes of the user's images as JSON lines.

Inputs (--input): one PNG/JPEG file, a folder of them, or a .npy batch (uint8 pixels, or
floats in [0, 1]); the default is the test split. They go through the same scaling and
normalisation as training (`inference`), which `--mode=export` also packages.
"""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.config import checks as v
from bigmodel_jax.engine import export, quantize
from bigmodel_jax.errors import DataError
from bigmodel_jax.workloads.base import IO_FLAGS, Mode, ModeFlag, export_mode, output_path
from bigmodel_jax.workloads.supervised import explain

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def inference(run, state) -> export.Inference:
  """Images in [0, 1] (B, H, W, C) float32 -> class probabilities (or regression outputs), with the
  run's normalisation, weights and flip test-time augmentation, as `eval_step` scores them."""
  config, spec = run.config, run.data.spec
  model = explain.classifier_model(config, spec)   # An int8 run's weights need the quantised model.
  variables = jax.device_get({"params": state.eval_params(), **state.model_state})
  mean, std = np.asarray(run.data.mean, np.float32), np.asarray(run.data.std, np.float32)
  flip = config.supervised.flip_tta and spec.is_classification

  apply = quantize.with_weights_as_arguments(lambda v, x: model.apply(v, x, train=False), variables)

  def fn(images_BxHxWxC):
    x = (images_BxHxWxC - mean) / std
    outputs = apply(x)
    if not spec.is_classification:
      return outputs
    if flip:
      outputs = (jax.nn.log_softmax(outputs) + jax.nn.log_softmax(apply(x[:, :, ::-1]))) / 2
    return jax.nn.softmax(outputs)

  classes = list(run.data.class_names) if spec.is_classification else None
  example = np.asarray(run.data.display_images("test")[:8], np.float32)
  meta = {"input": "images scaled to [0, 1], (batch, height, width, channels)",
          "output": "class probabilities" if classes else "regression outputs", "classes": classes}
  return export.Inference(fn, tuple(spec.input_shape), "float32", meta, example)


def _image_file(path: str, shape: tuple) -> np.ndarray:
  """One image as uint8 (H, W, C), resized to the training size when it differs."""
  from PIL import Image, UnidentifiedImageError
  height, width, channels = shape
  try:
    with Image.open(path) as image:
      image = image.convert("L" if channels == 1 else "RGB")
      if image.size != (width, height):
        image = image.resize((width, height), Image.BILINEAR)
      pixels = np.asarray(image, np.uint8)
  except (OSError, UnidentifiedImageError) as e:
    raise DataError(f"--input: {path!r} is not a readable image ({type(e).__name__}: {e})") from e
  return pixels.reshape(shape)


def _npy_batch(path: str, shape: tuple) -> np.ndarray:
  """A .npy batch as float32 in [0, 1]: (N, H, W, C), or (N, H, W) for one channel."""
  try:
    x = np.load(path, mmap_mode="r", allow_pickle=False)
  except (OSError, ValueError) as e:
    raise DataError(f"--input={path!r} is not a readable .npy file ({type(e).__name__}: {e})") from e
  given = tuple(x.shape)
  if x.ndim == len(shape) and shape[-1] == 1:
    x = x[..., None]
  if x.ndim != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape) or len(x) == 0:
    raise DataError(f"--input={path!r} has shape {given}; expected (N>0, {', '.join(map(str, shape))})")
  if x.dtype == np.uint8:
    return np.asarray(x, np.float32) / 255.0
  if x.dtype.kind != "f" or not np.all(np.isfinite(x)) or x.min() < 0 or x.max() > 1:
    raise DataError(f"--input={path!r}: dtype {x.dtype}; expected uint8 pixels or finite floats in [0, 1]")
  return np.asarray(x, np.float32)


def read_inputs(path: str, shape: tuple) -> tuple[list, np.ndarray]:
  """(names, images in [0, 1]) of --input: an image file, a folder of images, or a .npy batch."""
  if path.endswith(".npy") and os.path.isfile(path):
    x = _npy_batch(path, shape)
    return [f"{path}[{i}]" for i in range(len(x))], x
  if os.path.isdir(path):
    files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.lower().endswith(IMAGE_SUFFIXES))
    if not files:
      raise DataError(f"--input={path!r} is a folder without {'/'.join(IMAGE_SUFFIXES)} files")
  elif os.path.isfile(path) and path.lower().endswith(IMAGE_SUFFIXES):
    files = [path]
  else:
    raise DataError(f"--input={path!r}: expected an image file ({'/'.join(IMAGE_SUFFIXES)}), a folder of them "
                    "or a .npy batch")
  return files, np.stack([_image_file(f, shape) for f in files]).astype(np.float32) / 255.0


def probabilities(fn, images, batch_size: int) -> np.ndarray:
  """fn over `images` in batches of one padded shape (one compilation)."""
  pad = -len(images) % batch_size
  x = np.concatenate([images, np.zeros((pad,) + images.shape[1:], images.dtype)])
  return np.concatenate([np.asarray(fn(jnp.asarray(x[i:i + batch_size]))) for i in range(0, len(x), batch_size)])[
      :len(images)]


def predict(run, state, options) -> dict:
  """Top-k classes of every --input image (default the test split) -> JSON lines at --output."""
  if not run.data.spec.is_classification:
    raise DataError(f"--mode=predict: {run.config.data.name!r} is a regression task; predict needs classes")
  inf = inference(run, state)
  if options["input"]:
    names, images = read_inputs(options["input"], inf.input_shape)
  else:
    images = np.asarray(run.data.display_images("test"), np.float32)
    names = [f"test[{i}]" for i in range(len(images))]
  probs = probabilities(jax.jit(inf.fn), images, run.config.eval.batch_size)
  top = np.argsort(-probs, axis=1, kind="stable")[:, :options["top_k"]]
  path = output_path(run, options, "predictions.jsonl")
  if run.is_writer:
    with open(path, "w") as f:
      for name, row, p in zip(names, top, probs):
        f.write(json.dumps({"input": name, "top_k": [{"class": inf.meta["classes"][i], "index": int(i),
                                                      "probability": float(p[i])} for i in row]}) + "\n")
  return {"input": options["input"] or "the test split", "rows": len(names), "output": path}


PREDICT = Mode(predict, "top-k classes of image files, a folder or a .npy batch: JSON lines",
               {**IO_FLAGS, "top_k": ModeFlag(int, "classes listed per input", v.int_in(1, 1000), default=3)})
EXPORT = export_mode(inference)
