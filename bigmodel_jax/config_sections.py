"""The config sections experiments share, each key declared, commented and range-checked once.

An experiment file (configs/*.py) calls these with the values it changes; a
keyword that is not a key here is an error, so a typo cannot pass silently. Each
key is `name=(default, check)`: `validation.check_config` applies the check to
whatever value the experiment or a `--config.*` override gives it. The `model`
and `data` sections, and a workload's own sections, are written out in each
experiment file and checked by their model, source or workload.
"""
import ml_collections

from bigmodel_jax import validation as v

OPTIMIZER = dict(
    name=("adam", v.STRING),                 # sgd | adam | adamw | rmsprop (bigmodel_jax.optim.OPTIMIZERS)
    learning_rate=(1e-3, v.POSITIVE),        # Peak learning rate of the schedule.
    schedule=("constant", v.STRING),         # constant | warmup_cosine | onecycle | linear (optim.SCHEDULES)
    warmup_steps=(0, v.NON_NEGATIVE_INT),    # Linear warm-up from 0 (onecycle: steps to the peak).
    final_lr_fraction=(0.0, v.FRACTION),     # End of warmup_cosine / onecycle, as a fraction of the peak.
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
    batch_size=(128, v.POSITIVE_INT),        # Global batch; must divide by the mesh's data axis.
    num_epochs=(10, v.POSITIVE_INT),         # Length of the run ...
    num_steps=(-1, v.int_or_minus_one()),    # ... unless this is > 0 (train steps = updates).
    steps_per_dispatch=(1, v.POSITIVE_INT),  # Updates per jitted call, as one lax.scan on device.
    log_every_steps=(100, v.POSITIVE_INT),   # Train metrics (means since the last log) to metrics.jsonl / TensorBoard.
    eval_every_steps=(-1, v.int_or_minus_one()),  # Evaluation splits; -1 = once an epoch (or once at the end).
    progress_bar=(True, v.BOOL),             # tqdm bar with loss and throughput.
)

EVAL = dict(
    batch_size=(1000, v.POSITIVE_INT),       # Evaluation batch; must divide by the mesh's data axis.
)

CHECKPOINT = dict(
    every_steps=(1000, v.POSITIVE_INT),      # Also saved at the last step and when stopped.
    keep=(3, v.POSITIVE_INT),                # Most recent checkpoints kept.
    async_save=(True, v.BOOL),               # Write in the background while training goes on.
)

MESH = dict(
    data=(-1, v.int_or_minus_one()),         # Devices on the data axis; -1 = all that `model` leaves.
    model=(1, v.POSITIVE_INT),               # Devices on the model (tensor-parallel) axis.
    param_sharding=("replicate", v.STRING),  # replicate | fsdp | logical (bigmodel_jax.parallel.PARAM_SHARDINGS)
    # Logical axis name -> mesh axis (or None = replicated) for `logical`, as (name, axis) pairs;
    # models annotate parameters and activations with logical names (nn.with_logical_partitioning).
    rules=((), v.Check("(logical name, mesh axis or None) pairs",
                       lambda r: all(len(p) == 2 and isinstance(p[0], str) for p in r))),
)

SUPERVISED = dict(
    label_smoothing=(0.0, v.PROBABILITY),    # Classification only.
    ema_decay=(0.0, v.PROBABILITY),          # > 0: keep an EMA of the parameters and evaluate it (e.g. 0.999).
    flip_tta=(False, v.BOOL),                # Classification: also score the mirrored image and average.
)

# Top-level config key -> its declaration; `validation.check_config` checks every one present.
SECTIONS = {"optimizer": OPTIMIZER, "train": TRAIN, "eval": EVAL, "checkpoint": CHECKPOINT,
            "mesh": MESH, "supervised": SUPERVISED}


def _section(name: str, overrides: dict) -> ml_collections.ConfigDict:
  declared = SECTIONS[name]
  unknown = sorted(set(overrides) - set(declared))
  if unknown:
    raise KeyError(f"config section {name!r} has no key(s) {unknown}; it has {sorted(declared)}")
  return ml_collections.ConfigDict({**{k: default for k, (default, _) in declared.items()}, **overrides})


def checks(name: str) -> dict:
  """Key -> Check of a declared section."""
  return {k: check for k, (_, check) in SECTIONS[name].items()}


def optimizer(**overrides) -> ml_collections.ConfigDict:
  return _section("optimizer", overrides)


def train(**overrides) -> ml_collections.ConfigDict:
  return _section("train", overrides)


def evaluation(**overrides) -> ml_collections.ConfigDict:
  return _section("eval", overrides)


def checkpoint(**overrides) -> ml_collections.ConfigDict:
  return _section("checkpoint", overrides)


def mesh(**overrides) -> ml_collections.ConfigDict:
  return _section("mesh", overrides)


def supervised(**overrides) -> ml_collections.ConfigDict:
  """Keys of the supervised workload alone (label smoothing, EMA, flip test-time augmentation)."""
  return _section("supervised", overrides)
