"""A finished classifier run as a function of images: its model, weights and normalisation.

Used wherever another workload reads a trained classifier: k-means on its
embeddings (the input of its last dense layer) and the generative scores (features
and class probabilities of generated images).
"""
import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.data.pipeline import SupervisedData, load_supervised_data
from bigmodel_jax.engine.finished_run import FinishedRun, load_run
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model

TRAIN_COMMAND = "python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir={workdir}"


def penultimate_and_logits(model: nn.Module, variables, x):
  """(input of the model's last Dense layer, flattened to rows; its logits): one forward pass,
  watching the model's Dense calls with a method interceptor."""
  seen = []

  def watch(next_fun, args, kwargs, context):
    if isinstance(context.module, nn.Dense) and context.method_name == "__call__":
      seen.append(args[0])
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(watch):
    logits = model.apply(variables, x, train=False)
  if not seen:
    raise ConfigError(f"model {type(model).__name__} has no Dense layer to take features from")
  return seen[-1].reshape(x.shape[0], -1).astype(jnp.float32), logits


@dataclasses.dataclass
class Classifier:
  """A trained classifier: `run` (config, weights), its rebuilt `model` and its `data` pipeline
  (splits normalised as in training, the normalisation statistics, class names)."""
  run: FinishedRun
  model: nn.Module
  data: SupervisedData

  def variables(self) -> dict:
    return jax.tree.map(np.asarray, self.run.inference_variables())


def load_classifier(workdir: str, key: str) -> Classifier:
  """The finished image-classifier run in `workdir`; `key` names the config key that points at it."""
  run = load_run(workdir, key, workload="supervised", train_hint=TRAIN_COMMAND)
  if "per_class" not in run.summary.get("test_details", {}):
    raise ConfigError(f"{key}={workdir!r} is a regression run, not an image classifier; "
                      f"use one trained with {TRAIN_COMMAND.format(workdir=workdir)}")
  data = load_supervised_data(run.config.data, run.config.train.batch_size, run.config.seed)
  return Classifier(run, build_model(run.config.model, num_outputs=data.spec.num_outputs), data)
