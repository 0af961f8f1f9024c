"""Supervised learning: image classification (cross-entropy) and regression (MSE)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.data.pipeline import DATA_SECTION, load_supervised_data
from bigmodel_jax.engine import dp, pruning, quantize
from bigmodel_jax.engine.optim import make_optimizer
from bigmodel_jax.engine.parallel import DATA_AXIS
from bigmodel_jax.engine.train_state import TrainState, ema_update
from bigmodel_jax.models import build_model
from bigmodel_jax.workloads.base import Report, Workload, with_common
from bigmodel_jax.workloads.supervised import metrics as classification_metrics
from bigmodel_jax.workloads.supervised import plots
from bigmodel_jax.workloads.supervised import explain
from bigmodel_jax.workloads.supervised import modes as supervised_modes
from bigmodel_jax.workloads.supervised import predict

# The workload's own keys.
SUPERVISED_SECTION = dict(
    label_smoothing=(0.0, v.PROBABILITY),    # Classification: targets (1 - s) one-hot + s / classes.
    flip_tta=(False, v.BOOL),                # Classification: also score the mirrored image and average.
)


def make_data(config, mesh):
  del mesh
  dp.check(config)   # Host batches are split over the mesh when they are placed.
  return load_supervised_data(config.data, config.train.batch_size, config.seed)


def planned_steps(config, spec) -> int:
  return config.train.num_steps if config.train.num_steps > 0 else config.train.num_epochs * spec.steps_per_epoch


def num_train_steps(config, spec) -> int:
  """The planned run, ended earlier under DP-SGD at the last step within dp.target_epsilon."""
  steps = planned_steps(config, spec)
  if dp.enabled(config.get("dp")):
    steps = dp.steps_within(config.get("dp"), sampling_rate(spec), steps, config.train.steps_per_dispatch)
  return steps


def sampling_rate(spec) -> float:
  return 1.0 / spec.steps_per_epoch


build_classifier = explain.classifier_model   # The model as the config runs it (float, QAT or int8).

def _model_and_optimizer(config, spec):
  total = num_train_steps(config, spec)
  tx = make_optimizer(config.optimizer, total)
  if dp.enabled(config.get("dp")):
    tx = optax.chain(dp.private_aggregate(config.get("dp"), config.seed), tx)
  return build_classifier(config, spec), pruning.with_pruning(tx, config.get("prune"), total)


def init_state(rng, device_data, *, config, spec) -> TrainState:
  del device_data  # Batches come from the host.
  model, tx = _model_and_optimizer(config, spec)
  params_rng, dropout_rng = jax.random.split(rng)
  dummy = jnp.zeros((1,) + tuple(spec.input_shape), jnp.float32)
  variables = model.init({"params": params_rng, "dropout": dropout_rng}, dummy, train=False)
  if quantize.holds_int8_params(config.get("quant")):
    float_model = build_model(config.model, num_outputs=spec.num_outputs)
    float_params = float_model.init({"params": params_rng, "dropout": dropout_rng}, dummy, train=False)["params"]
    variables = {**variables, "params": quantize.quantize_params(float_params, model, dummy, train=False)}
  return TrainState.create(variables, tx, use_ema=config.train.ema_decay > 0)


def gather_batch(device_data, step, rng, *, config, spec):
  """With data.on_device: step's batch gathered from the stored train images on the devices.

  Each epoch is a permutation drawn from (seed, epoch) on device, so batches are still a
  function of (seed, step) alone (not the host path's order). uint8 images are scaled
  and normalised here, which keeps the copy on the devices 4x smaller.
  """
  del rng
  images, targets = device_data["images"], device_data["targets"]
  epoch, index = jnp.divmod(step, spec.steps_per_epoch)
  order = jax.random.permutation(jax.random.fold_in(jax.random.PRNGKey(config.seed), epoch), len(images))
  rows = jax.lax.dynamic_slice_in_dim(order, index * config.train.batch_size, config.train.batch_size)
  inputs = images[rows].astype(jnp.float32)
  if images.dtype == jnp.uint8:
    inputs = inputs / 255.0
  inputs = (inputs - device_data["mean"]) / device_data["std"]
  batch = {"inputs": inputs, "targets": targets[rows]}
  return jax.lax.with_sharding_constraint(batch, jax.sharding.PartitionSpec(DATA_AXIS))


def random_crop(x_BxHxWxC, rng, padding: int):
  """Zero-pads by `padding` and takes a random crop of the original size per example."""
  b, h, w, _ = x_BxHxWxC.shape
  padded = jnp.pad(x_BxHxWxC, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
  offsets = jax.random.randint(rng, (b, 2), 0, 2 * padding + 1)
  crop = lambda img, off: jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, img.shape[-1]))
  return jax.vmap(crop)(padded, offsets)


def random_flip(x_BxHxWxC, rng):
  """Mirrors each image left-right with probability 1/2."""
  flip = jax.random.bernoulli(rng, 0.5, (x_BxHxWxC.shape[0], 1, 1, 1))
  return jnp.where(flip, x_BxHxWxC[:, :, ::-1], x_BxHxWxC)


def augment(inputs, rng, data_cfg):
  crop_rng, flip_rng = jax.random.split(rng)
  if data_cfg.crop_padding > 0:
    inputs = random_crop(inputs, crop_rng, data_cfg.crop_padding)
  if data_cfg.horizontal_flip:
    inputs = random_flip(inputs, flip_rng)
  return inputs


def per_example_loss(outputs, targets, *, is_classification: bool, label_smoothing: float = 0.0):
  if is_classification:
    onehot = optax.smooth_labels(jax.nn.one_hot(targets, outputs.shape[-1]), label_smoothing)
    return optax.softmax_cross_entropy(outputs, onehot)
  return jnp.mean(jnp.square(outputs - targets), axis=-1)


def train_step(state: TrainState, batch, rng, *, config, spec):
  model, tx = _model_and_optimizer(config, spec)
  augment_rng, dropout_rng = jax.random.split(rng)
  inputs = augment(batch["inputs"], augment_rng, config.data) if spec.is_classification else batch["inputs"]
  mutable = list(state.model_state)

  def loss_fn(params):
    outputs, new_model_state = model.apply(
        {"params": params, **state.model_state}, inputs, train=True,
        rngs={"dropout": dropout_rng}, mutable=mutable)
    losses = per_example_loss(outputs, batch["targets"], is_classification=spec.is_classification,
                              label_smoothing=config.supervised.label_smoothing)
    return losses.mean(), (outputs, new_model_state)

  if dp.enabled(config.get("dp")):
    loss, outputs, new_model_state, grads = _per_example_grads(model, state, inputs, batch["targets"], dropout_rng,
                                                               config, spec)
  else:
    (loss, (outputs, new_model_state)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
  if spec.is_classification:
    metrics["accuracy"] = jnp.mean(jnp.argmax(outputs, -1) == batch["targets"])
  params = optax.apply_updates(state.params, updates)
  ema_params = state.ema_params
  if ema_params is not None:
    ema_params = ema_update(ema_params, params, state.step, config.train.ema_decay)
  new_state = state.replace(step=state.step + 1, params=params, model_state=new_model_state,
                            opt_state=opt_state, ema_params=ema_params)
  return new_state, metrics


def _per_example_grads(model, state, inputs, targets, rng, config, spec):
  """DP-SGD: one gradient per example (vmap), stacked on axis 0 for optax's private aggregate."""
  def one_loss(params, x, y, index):
    outputs = model.apply({"params": params, **state.model_state}, x[None], train=True,
                          rngs={"dropout": jax.random.fold_in(rng, index)})
    loss = per_example_loss(outputs, y[None], is_classification=spec.is_classification,
                            label_smoothing=config.supervised.label_smoothing)[0]
    return loss, outputs[0]
  grad_fn = jax.vmap(jax.value_and_grad(one_loss, has_aux=True), in_axes=(None, 0, 0, 0))
  (losses, outputs), grads = grad_fn(state.params, inputs, targets, jnp.arange(inputs.shape[0]))
  return losses.mean(), outputs, state.model_state, grads


def eval_step(state: TrainState, batch, rng, *, config, spec) -> dict:
  del rng  # Deterministic.
  model = build_classifier(config, spec)
  variables = {"params": state.eval_params(), **state.model_state}
  outputs = model.apply(variables, batch["inputs"], train=False)
  if config.supervised.flip_tta and spec.is_classification:
    # Test-time augmentation: average the log-probabilities of the image and its mirror.
    mirrored = model.apply(variables, batch["inputs"][:, :, ::-1], train=False)
    outputs = (jax.nn.log_softmax(outputs) + jax.nn.log_softmax(mirrored)) / 2
  loss = per_example_loss(outputs, batch["targets"], is_classification=spec.is_classification)
  if spec.is_classification:
    return {"loss": loss, "prediction": jnp.argmax(outputs, -1), "target": batch["targets"]}
  return {"loss": loss, "prediction": outputs, "target": batch["targets"]}


def summarize(outputs, *, config, data) -> dict:
  del config
  metrics = {"loss": float(np.mean(outputs["loss"]))}
  if data.spec.is_classification:
    metrics["accuracy"] = float(np.mean(outputs["prediction"] == outputs["target"]))
  else:
    metrics["mse"] = metrics["loss"]
  return metrics


def report(run, state, outputs) -> Report:
  """Per-class precision/recall/F1, the confusion matrix and a 5x5 prediction grid of the test split."""
  data, workdir = run.data, run.workdir
  summary = technique_summary(run, state)
  if not data.spec.is_classification:
    return Report(summary=summary)
  names = data.class_names
  cm = classification_metrics.confusion_matrix(outputs["target"], outputs["prediction"], len(names))
  scores = classification_metrics.precision_recall_f1(cm)
  if run.is_writer:
    plots.plot_confusion_matrix(cm, names, os.path.join(workdir, "confusion_matrix.png"))
    shown = min(25, len(outputs["target"]))
    plots.plot_prediction_grid(data.display_images("test")[:shown], outputs["target"][:shown],
                               outputs["prediction"][:shown], names, os.path.join(workdir, "predictions.png"))
  result = {f"macro_{k}": float(scores[f"macro_{k}"]) for k in ("precision", "recall", "f1")}
  result["per_class"] = {name: {k: float(scores[k][i]) for k in ("precision", "recall", "f1")}
                         for i, name in enumerate(names)}
  result["confusion_matrix"] = cm.tolist()
  return Report(details=result, summary=summary)


def technique_summary(run, state) -> dict:
  """The sparsity reached (pruning) and the privacy spent (DP-SGD), for summary.json."""
  config, summary = run.config, {}
  if pruning.enabled(config.get("prune")):
    summary["sparsity"] = pruning.sparsity_report(jax.device_get(state.params))
  if dp.enabled(config.get("dp")):
    summary["privacy"] = dp.privacy_summary(config.get("dp"), sampling_rate(run.data.spec),
                                            int(jax.device_get(state.step)))
  return summary


def log_privacy(run, state, step, writer) -> None:
  """privacy/epsilon beside each evaluation of a DP-SGD run."""
  del state
  if dp.enabled(run.config.get("dp")):
    cfg = run.config.get("dp")
    writer.write(step, {"privacy/epsilon": dp.epsilon(cfg.noise_multiplier, sampling_rate(run.data.spec), step,
                                                      cfg.delta)})


WORKLOAD = Workload(
    sections=with_common(data=DATA_SECTION, optimizer=sections.OPTIMIZER, supervised=SUPERVISED_SECTION,
                         quant=quantize.QUANT_SECTION, prune=pruning.PRUNE_SECTION, dp=dp.DP_SECTION),
    make_data=make_data, num_train_steps=num_train_steps, init_state=init_state, train_step=train_step,
    eval_step=eval_step, summarize=summarize, report=report, gather_batch=gather_batch,
    on_evaluation=log_privacy,
    modes={**supervised_modes.MODES, "predict": predict.PREDICT, "export": predict.EXPORT})
