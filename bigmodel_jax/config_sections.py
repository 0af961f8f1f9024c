"""The config sections every experiment shares, each key declared and commented once.

An experiment file (configs/*.py) calls these with the values it changes; a
keyword that is not a key here is an error, so a typo cannot pass silently.
The `model` and `data` sections are written out in each experiment file.
"""
import ml_collections


def _section(defaults: dict, overrides: dict, name: str) -> ml_collections.ConfigDict:
  unknown = sorted(set(overrides) - set(defaults))
  if unknown:
    raise KeyError(f"config section {name!r} has no key(s) {unknown}; it has {sorted(defaults)}")
  return ml_collections.ConfigDict({**defaults, **overrides})


def optimizer(**overrides) -> ml_collections.ConfigDict:
  return _section(dict(
      name="adam",                 # sgd | adam | adamw | rmsprop (bigmodel_jax.optim.OPTIMIZERS)
      learning_rate=1e-3,          # Peak learning rate of the schedule.
      schedule="constant",         # constant | warmup_cosine | onecycle (optim.SCHEDULES)
      warmup_steps=0,              # Linear warm-up from 0 (onecycle: steps to the peak).
      final_lr_fraction=0.0,       # End of warmup_cosine / onecycle, as a fraction of the peak.
      momentum=0.9,                # sgd and rmsprop (0 = none).
      nesterov=False,              # sgd.
      b1=0.9,                      # adam / adamw.
      b2=0.999,                    # adam / adamw.
      eps=1e-8,                    # adam / adamw / rmsprop.
      rms_decay=0.9,               # rmsprop.
      weight_decay=0.0,            # Decoupled for adamw; added to the gradient otherwise. Kernels only.
      grad_clip_norm=0.0,          # Clip the global gradient norm to this (0 = off).
  ), overrides, "optimizer")


def train(**overrides) -> ml_collections.ConfigDict:
  return _section(dict(
      batch_size=128,              # Global batch; must divide by the mesh's data axis.
      num_epochs=10,               # Length of the run ...
      num_steps=-1,                # ... unless this is > 0.
      label_smoothing=0.0,         # Classification only.
      ema_decay=0.0,               # > 0: keep an EMA of the parameters and evaluate it (e.g. 0.999).
      log_every_steps=100,         # Train metrics (means since the last log) to metrics.jsonl / TensorBoard.
      eval_every_steps=-1,         # Validation split; -1 = once an epoch.
      progress_bar=True,           # tqdm bar with loss and examples/s.
  ), overrides, "train")


def evaluation(**overrides) -> ml_collections.ConfigDict:
  return _section(dict(
      batch_size=1000,             # Validation / test batch; must divide by the mesh's data axis.
      flip_tta=False,              # Classification: also score the mirrored image and average.
  ), overrides, "eval")


def checkpoint(**overrides) -> ml_collections.ConfigDict:
  return _section(dict(
      every_steps=1000,            # Also saved at the last step.
      keep=3,                      # Most recent checkpoints kept.
      async_save=True,             # Write in the background while training goes on.
  ), overrides, "checkpoint")


def mesh(**overrides) -> ml_collections.ConfigDict:
  return _section(dict(
      data=-1,                     # Devices on the data axis; -1 = all that `model` leaves.
      model=1,                     # Devices on the model (tensor-parallel) axis.
      param_sharding="replicate",  # replicate | fsdp (bigmodel_jax.parallel.PARAM_SHARDINGS)
  ), overrides, "mesh")
