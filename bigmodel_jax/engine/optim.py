"""optax optimizers and learning-rate schedules, chosen by name from the `optimizer` config section."""
import jax
import optax

from bigmodel_jax.errors import ConfigError


def _constant(cfg, total_steps):
  del total_steps
  return optax.join_schedules(
      [optax.linear_schedule(0.0, cfg.learning_rate, max(cfg.warmup_steps, 1)),
       optax.constant_schedule(cfg.learning_rate)],
      boundaries=[cfg.warmup_steps])


def _warmup_cosine(cfg, total_steps):
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=cfg.learning_rate, warmup_steps=cfg.warmup_steps,
      decay_steps=max(total_steps, cfg.warmup_steps + 1),
      end_value=cfg.learning_rate * cfg.final_lr_fraction)


def _onecycle(cfg, total_steps):
  # Linear rise over `warmup_steps` then cosine annealing; the fast-convergence recipe.
  return optax.cosine_onecycle_schedule(
      transition_steps=max(total_steps, 2), peak_value=cfg.learning_rate,
      pct_start=min(max(cfg.warmup_steps / max(total_steps, 1), 0.01), 0.99),
      final_div_factor=1.0 / max(cfg.final_lr_fraction, 1e-6) / 25.0)


def _linear(cfg, total_steps):
  # Linear annealing from the peak to final_lr_fraction of it over the run (PPO's usual schedule).
  return optax.linear_schedule(cfg.learning_rate, cfg.learning_rate * cfg.final_lr_fraction, max(total_steps, 1))


SCHEDULES = {
    "constant": _constant,
    "warmup_cosine": _warmup_cosine,
    "onecycle": _onecycle,
    "linear": _linear,
}

OPTIMIZERS = {
    "sgd": lambda lr, c: optax.sgd(lr, momentum=c.momentum or None, nesterov=c.nesterov),
    "adam": lambda lr, c: optax.adam(lr, b1=c.b1, b2=c.b2, eps=c.eps),
    "adamw": lambda lr, c: optax.adamw(lr, b1=c.b1, b2=c.b2, eps=c.eps,
                                       weight_decay=c.weight_decay, mask=decay_mask),
    "rmsprop": lambda lr, c: optax.rmsprop(lr, decay=c.rms_decay, eps=c.eps, momentum=c.momentum or None),
}


def decay_mask(params):
  """Weight decay on kernels only: biases and normalisation scales (1-D) are left alone."""
  return jax.tree.map(lambda p: p.ndim > 1, params)


def make_schedule(cfg, total_steps: int):
  if cfg.schedule not in SCHEDULES:
    raise ConfigError(f"optimizer.schedule={cfg.schedule!r}; choose one of {sorted(SCHEDULES)}")
  return SCHEDULES[cfg.schedule](cfg, total_steps)


def make_optimizer(cfg, total_steps: int) -> optax.GradientTransformation:
  """Gradient clipping, weight decay (for non-AdamW) and the named optimizer, in that order."""
  if cfg.name not in OPTIMIZERS:
    raise ConfigError(f"optimizer.name={cfg.name!r}; choose one of {sorted(OPTIMIZERS)}")
  parts = []
  if cfg.grad_clip_norm > 0:
    parts.append(optax.clip_by_global_norm(cfg.grad_clip_norm))
  if cfg.weight_decay > 0 and cfg.name != "adamw":
    parts.append(optax.add_decayed_weights(cfg.weight_decay, mask=decay_mask))
  parts.append(OPTIMIZERS[cfg.name](make_schedule(cfg, total_steps), cfg))
  return optax.chain(*parts)
