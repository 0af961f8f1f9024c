"""Features of a trained classifier: the input of its last Dense layer, for every image.

Clustering these (or feeding them to another model) is the feature-extraction use of
a classifier. The run is rebuilt from its own summary.json (config) and latest
checkpoint; its data pipeline gives the same normalisation and validation hold-out.
"""
import json
import os

import flax.linen as nn
import jax
import ml_collections
import numpy as np

from bigmodel_jax.checkpoints import Checkpointer
from bigmodel_jax.data.pipeline import load_supervised_data
from bigmodel_jax.errors import DataError
from bigmodel_jax.models import build_model


def _classifier_run(workdir: str):
  path = os.path.join(workdir, "summary.json")
  if not os.path.isfile(path):
    raise DataError(f"data.path={workdir!r} is not a finished classifier run (no summary.json); train it first, "
                    f"e.g. python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir={workdir}")
  with open(path) as f:
    config = ml_collections.ConfigDict(json.load(f)["config"])
  if config.get("workload") != "supervised" or "model" not in config:
    raise DataError(f"data.path={workdir!r} is a {config.get('workload')!r} run, not a classifier")
  checkpoints = Checkpointer(workdir, keep=1, read_only=True)
  try:
    saved = checkpoints.restore_raw(checkpoints.latest_step())["train_state"]
  finally:
    checkpoints.close()
  params = saved["ema_params"] if saved.get("ema_params") is not None else saved["params"]
  return config, {"params": params, **(saved.get("model_state") or {})}


def last_dense_inputs(model: nn.Module, variables, x):
  """What the model's final nn.Dense receives (its penultimate features), via a method interceptor."""
  seen = []

  def record(next_fun, args, kwargs, context):
    if isinstance(context.module, nn.Dense) and context.method_name == "__call__":
      seen.append(args[0])
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    model.apply(variables, x, train=False)
  if not seen:
    raise DataError(f"model {type(model).__name__} has no Dense layer to take features from")
  return seen[-1].astype(np.float32)


def classifier_embeddings(workdir: str, batch_size: int):
  """(splits {train, test}: (features, labels), None, class names) of a classifier run."""
  config, variables = _classifier_run(workdir)
  data = load_supervised_data(config.data, config.train.batch_size, config.seed)
  model = build_model(config.model, data.num_outputs)
  embed = jax.jit(lambda v, x: last_dense_inputs(model, v, x))
  splits = {}
  for split in ("train", "test"):
    images, labels = data.splits[split]
    chunks = [np.asarray(embed(variables, images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
    splits[split] = (np.concatenate(chunks).reshape(len(images), -1), np.asarray(labels, np.int32))
  return splits, None, data.class_names
