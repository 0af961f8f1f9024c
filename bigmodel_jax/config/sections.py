"""Config sections: every key declared once, with its default, a one-line comment and its check.

A declaration is a dict `key -> (default, check)`. The shared sections are declared
here; a workload declares its own (`Workload.sections`, e.g. `rl`, `gan`), a data
family its `data` section (`data/pipeline.py`, `data/text.py`, `data/points.py`) and
a model class its `model.*` keys (its fields and `CONFIG_CHECKS`). An experiment
(`configs/*.py`) is built by `config.experiment.experiment` from these declarations
and the values it changes; a key no declaration has is an error, so a typo cannot pass.
"""
import dataclasses

import ml_collections

from bigmodel_jax.config import checks as v
from bigmodel_jax.engine import optim, parallel
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import MODELS

# Keys at the top of every config.
TOP = dict(
    workload=("", v.STRING),                 # Key of bigmodel_jax.workloads.WORKLOADS.
    seed=(0, v.NON_NEGATIVE_INT),            # Parameters, data order, dropout, augmentation, environments.
    init_from=("", v.STRING),                # Workdir of a run to start from (arrays matched by path and shape).
)

OPTIMIZER = dict(
    name=("adam", v.one_of(*sorted(optim.OPTIMIZERS))),           # sgd | adam | adamw | rmsprop
    learning_rate=(1e-3, v.POSITIVE),        # Peak learning rate of the schedule.
    schedule=("constant", v.one_of(*sorted(optim.SCHEDULES))),    # constant | warmup_cosine | onecycle | linear
    warmup_steps=(0, v.NON_NEGATIVE_INT),    # Linear warm-up from 0 (onecycle: steps to the peak).
    final_lr_fraction=(0.0, v.FRACTION),     # End of warmup_cosine / onecycle / linear, as a fraction of the peak.
    momentum=(0.9, v.PROBABILITY),           # sgd and rmsprop (0 = none).
    nesterov=(False, v.BOOL),                # sgd.
    b1=(0.9, v.PROBABILITY),                 # adam / adamw.
    b2=(0.999, v.PROBABILITY),               # adam / adamw.
    eps=(1e-8, v.POSITIVE),                  # adam / adamw / rmsprop.
    rms_decay=(0.9, v.PROBABILITY),          # rmsprop.
    weight_decay=(0.0, v.NON_NEGATIVE),      # Decoupled for adamw; added to the gradient otherwise. Kernels only.
    grad_clip_norm=(0.0, v.NON_NEGATIVE),    # Clip the global gradient norm to this (0 = off).
)

TRAIN = dict(
    batch_size=(128, v.POSITIVE_INT),        # Global batch (examples, windows, points); divides by the data axis.
    num_epochs=(10, v.POSITIVE_INT),         # Length of the run in epochs ...
    num_steps=(-1, v.int_or_minus_one()),    # ... unless this is > 0 (train steps = updates).
    steps_per_dispatch=(1, v.POSITIVE_INT),  # Updates per jitted call, as one lax.scan on device.
    ema_decay=(0.0, v.PROBABILITY),          # > 0: keep an EMA of the weights; evaluation and samples use it.
    log_every_steps=(100, v.POSITIVE_INT),   # Train metrics (means since the last log) to metrics.jsonl, TensorBoard.
    eval_every_steps=(-1, v.int_or_minus_one()),  # Evaluation splits; -1 = once an epoch (or once at the end).
    progress_bar=(True, v.BOOL),             # tqdm bar with loss and throughput.
    slow_dispatch_s=(600.0, v.POSITIVE),     # A dispatch (compilation included) running longer is reported.
)

EVAL = dict(
    batch_size=(1000, v.POSITIVE_INT),       # Rows (examples, windows, episodes) per evaluation call.
)

CHECKPOINT = dict(
    every_steps=(1000, v.POSITIVE_INT),      # Also saved at the last step and when stopped.
    keep=(3, v.POSITIVE_INT),                # Most recent checkpoints kept.
    async_save=(True, v.BOOL),               # Write in the background while training goes on.
)

MESH = dict(
    data=(-1, v.int_or_minus_one()),         # Devices on the data axis; -1 = all that `model` leaves.
    model=(1, v.POSITIVE_INT),               # Devices on the model (tensor-parallel) axis.
    param_sharding=("replicate", v.one_of(*sorted(parallel.PARAM_SHARDINGS))),  # replicate | fsdp | logical
    # Logical axis name -> mesh axis (or None = replicated) for `logical`, as (name, axis) pairs;
    # models annotate parameters and activations with logical names (nn.with_logical_partitioning).
    rules=((), v.Check("(logical name, mesh axis or None) pairs",
                       lambda r: all(len(p) == 2 and isinstance(p[0], str) for p in r))),
)

# The sections every workload has besides its own.
COMMON = {"train": TRAIN, "eval": EVAL, "checkpoint": CHECKPOINT, "mesh": MESH}


def with_defaults(declaration: dict, **defaults) -> dict:
  """The same keys and checks with other defaults: a workload's own recipe for a shared section."""
  unknown = sorted(set(defaults) - set(declaration))
  if unknown:
    raise KeyError(f"the declaration has no key(s) {unknown}; it has {sorted(declaration)}")
  return {k: (defaults.get(k, default), check) for k, (default, check) in declaration.items()}


def section(declaration: dict, what: str = "section", **changes) -> ml_collections.ConfigDict:
  """A section with every declared key at its default, then `changes`; an undeclared key is a KeyError."""
  unknown = sorted(set(changes) - set(declaration))
  if unknown:
    raise KeyError(f"config {what} has no key(s) {unknown}; it has {sorted(declaration)}")
  return ml_collections.ConfigDict({**{k: default for k, (default, _) in declaration.items()}, **changes})


def checks(declaration: dict) -> dict:
  """Key -> Check of a declaration."""
  return {k: check for k, (_, check) in declaration.items()}


def optimizer(**changes) -> ml_collections.ConfigDict:
  return section(OPTIMIZER, "section 'optimizer'", **changes)


def train(**changes) -> ml_collections.ConfigDict:
  return section(TRAIN, "section 'train'", **changes)


def evaluation(**changes) -> ml_collections.ConfigDict:
  return section(EVAL, "section 'eval'", **changes)


def checkpoint(**changes) -> ml_collections.ConfigDict:
  return section(CHECKPOINT, "section 'checkpoint'", **changes)


def mesh(**changes) -> ml_collections.ConfigDict:
  return section(MESH, "section 'mesh'", **changes)


# Fields a workload fills in itself, never config keys.
MODEL_FIELDS_FROM_DATA = ("parent", "name", "num_outputs", "image_shape")


def model_declaration(name: str) -> dict:
  """The `model` section of MODELS[name]: its fields with their defaults, checked by its CONFIG_CHECKS."""
  if name not in MODELS:
    raise ConfigError(f"model.name={name!r}; choose one of {sorted(MODELS)}")
  cls = MODELS[name]
  class_checks = getattr(cls, "CONFIG_CHECKS", {})
  declared = {"name": (name, v.one_of(*sorted(MODELS)))}
  for field in dataclasses.fields(cls):
    if field.name in MODEL_FIELDS_FROM_DATA or field.default is dataclasses.MISSING:
      continue
    declared[field.name] = (field.default, class_checks[field.name])   # Every option has a check.
  return declared


def model(name: str, **changes) -> ml_collections.ConfigDict:
  """`model.name = name` and every field of that model class, at its default unless changed."""
  return section(model_declaration(name), f"model {name!r}", **changes)


def with_variant(config, arg, **variants):
  """`config` changed by the variant `arg` names (`--config=configs/x.py:tiny`); no arg: as is."""
  if not arg:
    return config
  if arg not in variants:
    raise ValueError(f"unknown variant {arg!r}; use one of {sorted(variants)} or nothing")
  variants[arg](config)
  return config


def short_run(config, *, num_steps: int, batch_size: int = 0, steps_per_dispatch: int = 1, log_every: int = 0,
              eval_every: int = 0, checkpoint_every: int = 0) -> None:
  """Shrinks a run to a few steps (tests, laptops): its length, batch, dispatch size and the cadence
  of logs, evaluations and checkpoints (0 leaves a value as it is)."""
  config.train.num_steps, config.train.steps_per_dispatch = num_steps, steps_per_dispatch
  changes = {"batch_size": batch_size, "log_every_steps": log_every, "eval_every_steps": eval_every}
  config.train.update({k: v for k, v in changes.items() if v})
  if checkpoint_every:
    config.checkpoint.every_steps = checkpoint_every


def on_fashion_mnist(config) -> None:
  """The same experiment on the local Fashion-MNIST files: runs offline where MNIST / CIFAR-10 cannot."""
  config.data.name, config.data.tfds_name = "fashion_mnist", ""
