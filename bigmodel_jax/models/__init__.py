"""Model registry: `config.model.name` picks the class, the other `config.model` keys are its fields."""
import dataclasses

import flax.linen as nn

from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models.actor_critic import ActorCritic
from bigmodel_jax.models.cnn import CNN
from bigmodel_jax.models.generative import DCGAN, VAE
from bigmodel_jax.models.lstm import LSTM
from bigmodel_jax.models.mlp import MLP
from bigmodel_jax.models.resnet import ResNet
from bigmodel_jax.models.transformer import Transformer

MODELS = {
    "actor_critic": ActorCritic,
    "cnn": CNN,
    "dcgan": DCGAN,
    "lstm": LSTM,
    "mlp": MLP,
    "resnet": ResNet,
    "transformer": Transformer,
    "vae": VAE,
}


def build_model(model_config, **from_data) -> nn.Module:
  """`MODELS[model_config.name]` with every other key of the section as a field, and the fields the
  workload fills from its data (`num_outputs=10`, or `image_shape=(28, 28, 1)` for generative models)."""
  name = model_config.name
  if name not in MODELS:
    raise ConfigError(f"model.name={name!r}; choose one of {sorted(MODELS)}")
  cls = MODELS[name]
  fields = {f.name for f in dataclasses.fields(cls)} - {"parent", "name"} - set(from_data)
  options = {k: v for k, v in model_config.items() if k != "name"}
  unknown = sorted(set(options) - fields)
  if unknown:
    raise ConfigError(f"model {name!r} has no option(s) {unknown}; it takes {sorted(fields)}")
  options = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
  return cls(**from_data, **options)
