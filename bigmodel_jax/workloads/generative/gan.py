"""DCGAN with the source material's non-saturating losses, or WGAN-GP (`gan.loss`).

One jitted step makes `gan.critic_steps` discriminator updates (each on the step's
real batch with fresh latents) and then one generator update, each net with its own
optax optimizer (`d_optimizer`, `g_optimizer`). An EMA of the generator's weights
(`train.ema_decay`) is what samples and scores use.
"""
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct

from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.engine import export
from bigmodel_jax.engine.optim import make_optimizer
from bigmodel_jax.engine.parallel import DATA_AXIS
from bigmodel_jax.engine.train_state import ema_update
from bigmodel_jax.models import build_model
from bigmodel_jax.models.generative import DCGAN
from bigmodel_jax.workloads.base import Workload, export_mode, with_common
from bigmodel_jax.workloads.generative import common as generative

LOSSES = ("nonsaturating", "wgan_gp")

# Both nets' optimizers default to the DCGAN paper's Adam(2e-4, b1 = 0.5).
OPTIMIZER_SECTION = sections.with_defaults(sections.OPTIMIZER, learning_rate=2e-4, b1=0.5)

GAN_SECTION = dict(
    loss=("nonsaturating", v.one_of(*LOSSES)),   # nonsaturating (the source's) | wgan_gp
    critic_steps=(1, v.POSITIVE_INT),        # Discriminator updates per generator update.
    gp_weight=(10.0, v.NON_NEGATIVE),        # wgan_gp: weight of the gradient penalty.
    real_label=(1.0, v.real_in(0.5, 1.0)),   # nonsaturating: D's target for real images (0.9 = one-sided smoothing).
)


@struct.dataclass
class GanState:
  step: jax.Array
  params: dict          # {"generator": ..., "discriminator": ...}
  batch_stats: dict     # The generator's batch-norm statistics.
  g_opt_state: optax.OptState
  d_opt_state: optax.OptState
  g_ema: dict           # EMA of params["generator"]; None when train.ema_decay == 0.


# Losses, from logits (NS) or critic scores (WGAN): top-level so the tests can check them on fixed values.
def nonsaturating_d_loss(real_logits, fake_logits, real_label: float = 1.0):
  """-[log D(x) + log(1 - D(G(z)))] with D = sigmoid(logit): softplus(-l_real) + softplus(l_fake).
  With real_label t < 1 the real term is the cross-entropy to t (one-sided label smoothing)."""
  real = real_label * jax.nn.softplus(-real_logits) + (1.0 - real_label) * jax.nn.softplus(real_logits)
  return jnp.mean(real + jax.nn.softplus(fake_logits))


def nonsaturating_g_loss(fake_logits):
  """-log D(G(z)) = softplus(-l_fake)."""
  return jnp.mean(jax.nn.softplus(-fake_logits))


def wasserstein_d_loss(real_scores, fake_scores):
  return jnp.mean(fake_scores) - jnp.mean(real_scores)


def wasserstein_g_loss(fake_scores):
  return -jnp.mean(fake_scores)


def gradient_penalty(critic, real, fake, eps_B):
  """mean_i (||grad_x critic(x_i)||_2 - 1)^2 at x_i = eps_i real_i + (1 - eps_i) fake_i."""
  eps = eps_B.reshape((-1,) + (1,) * (real.ndim - 1))
  mixed = eps * real + (1.0 - eps) * fake
  grads = jax.grad(lambda x: jnp.sum(critic(x)))(mixed)
  norms = jnp.sqrt(jnp.sum(jnp.square(grads), axis=tuple(range(1, grads.ndim))) + 1e-12)
  return jnp.mean(jnp.square(norms - 1.0))


def make_model(config, spec) -> DCGAN:
  return build_model(config.model, image_shape=tuple(spec.input_shape))


def _parts(config, spec):
  model = make_model(config, spec)
  steps = generative.num_train_steps(config, spec)
  return (model, make_optimizer(config.g_optimizer, steps),
          make_optimizer(config.d_optimizer, steps * config.gan.critic_steps))


def init_state(rng, device_data, *, config, spec) -> GanState:
  del device_data
  model, g_tx, d_tx = _parts(config, spec)
  params_rng, dropout_rng = jax.random.split(rng)
  z = jnp.zeros((1, config.model.latent_size), jnp.float32)
  variables = model.init({"params": params_rng, "dropout": dropout_rng}, z, train=False)
  params = variables["params"]
  return GanState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=variables["batch_stats"],
                  g_opt_state=g_tx.init(params["generator"]), d_opt_state=d_tx.init(params["discriminator"]),
                  g_ema=params["generator"] if config.train.ema_decay > 0 else None)


def _latents(rng, batch_size, config):
  z = jax.random.normal(rng, (batch_size, config.model.latent_size), jnp.float32)
  return jax.lax.with_sharding_constraint(z, jax.sharding.PartitionSpec(DATA_AXIS))


def _fake_images(model, state, z):
  """G(z) in training mode (batch statistics); the running statistics it computes are dropped."""
  fake, _ = model.apply({"params": state.params, "batch_stats": state.batch_stats}, z, train=True,
                        method=DCGAN.generate, mutable=["batch_stats"])
  return fake


def _critic(model, params, rng):
  return lambda x: model.apply({"params": params}, x, train=True, method=DCGAN.discriminate,
                               rngs={"dropout": rng})


def _d_accuracies(real_out, fake_out, wasserstein: bool):
  """Share of real images the discriminator calls real and of generated ones it calls fake:
  logit > 0 (NS); for a critic's unbounded scores, above the batch's real/fake midpoint."""
  cut = (jnp.mean(real_out) + jnp.mean(fake_out)) / 2 if wasserstein else 0.0
  return jnp.mean(real_out > cut), jnp.mean(fake_out <= cut)


def d_update(model, d_tx, state: GanState, real, rng, config):
  """One discriminator (critic) update against G(z) for fresh z."""
  z_rng, drop_rng, eps_rng = jax.random.split(rng, 3)
  fake = jax.lax.stop_gradient(_fake_images(model, state, _latents(z_rng, real.shape[0], config)))
  wasserstein = config.gan.loss == "wgan_gp"

  def loss_fn(d_params):
    params = {**state.params, "discriminator": d_params}
    critic = _critic(model, params, drop_rng)
    out = critic(jnp.concatenate([real, fake]))    # One pass over real and fake.
    real_out, fake_out = out[:real.shape[0]], out[real.shape[0]:]
    if not wasserstein:
      return nonsaturating_d_loss(real_out, fake_out, config.gan.real_label), (real_out, fake_out, jnp.zeros(()))
    penalty = gradient_penalty(critic, real, fake, jax.random.uniform(eps_rng, (real.shape[0],)))
    loss = wasserstein_d_loss(real_out, fake_out) + config.gan.gp_weight * penalty
    return loss, (real_out, fake_out, penalty)

  (loss, (real_out, fake_out, penalty)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params["discriminator"])
  updates, d_opt_state = d_tx.update(grads, state.d_opt_state, state.params["discriminator"])
  params = {**state.params, "discriminator": optax.apply_updates(state.params["discriminator"], updates)}
  real_acc, fake_acc = _d_accuracies(real_out, fake_out, wasserstein)
  metrics = {"d_loss": loss, "d_real_accuracy": real_acc, "d_fake_accuracy": fake_acc}
  if wasserstein:
    metrics["gradient_penalty"] = penalty
  return state.replace(params=params, d_opt_state=d_opt_state), metrics


def g_update(model, g_tx, state: GanState, batch_size, rng, config):
  """One generator update: D's verdict on G(z), with the generator's batch statistics updated."""
  z_rng, drop_rng = jax.random.split(rng)
  z = _latents(z_rng, batch_size, config)

  def loss_fn(g_params):
    params = {**state.params, "generator": g_params}
    fake, new_stats = model.apply({"params": params, "batch_stats": state.batch_stats}, z, train=True,
                                  method=DCGAN.generate, mutable=["batch_stats"])
    out = _critic(model, params, drop_rng)(fake)
    loss = wasserstein_g_loss(out) if config.gan.loss == "wgan_gp" else nonsaturating_g_loss(out)
    return loss, new_stats["batch_stats"]

  (loss, batch_stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["generator"])
  updates, g_opt_state = g_tx.update(grads, state.g_opt_state, state.params["generator"])
  generator = optax.apply_updates(state.params["generator"], updates)
  g_ema = state.g_ema
  if g_ema is not None:
    g_ema = ema_update(g_ema, generator, state.step, config.train.ema_decay)
  state = state.replace(params={**state.params, "generator": generator}, batch_stats=batch_stats,
                        g_opt_state=g_opt_state, g_ema=g_ema, step=state.step + 1)
  return state, {"g_loss": loss}


def train_step(state: GanState, batch, rng, *, config, spec):
  model, g_tx, d_tx = _parts(config, spec)
  real = batch["inputs"] * 2.0 - 1.0
  d_rows = []
  for i in range(config.gan.critic_steps):   # Unrolled: a few small updates.
    state, d_metrics = d_update(model, d_tx, state, real, jax.random.fold_in(rng, i), config)
    d_rows.append(d_metrics)
  g_rng = jax.random.fold_in(rng, config.gan.critic_steps)
  state, g_metrics = g_update(model, g_tx, state, real.shape[0], g_rng, config)
  metrics = {k: jnp.mean(jnp.stack([m[k] for m in d_rows])) for k in d_rows[0]}
  return state, {**metrics, **g_metrics}


def generate(state: GanState, z, *, config, spec, ema: bool = True):
  """G(z) in [-1, 1] with the running batch statistics; the EMA weights when kept and `ema`."""
  model = make_model(config, spec)
  generator = state.g_ema if ema and state.g_ema is not None else state.params["generator"]
  params = {**state.params, "generator": generator}
  return model.apply({"params": params, "batch_stats": state.batch_stats}, z, train=False,
                     method=DCGAN.generate)


def inference(run, state) -> export.Inference:
  """Latents (B, latent_size) float32 -> generated images in [-1, 1] (B, H, W, C), as --mode=sample."""
  state = jax.device_get(state)
  fn = lambda z_BxZ: generate(state, z_BxZ, config=run.config, spec=run.data.spec)
  example = np.asarray(generative.latents(run.config, 4, purpose=7))
  meta = {"input": "latents ~ N(0, I) (batch, latent_size)", "output": "images in [-1, 1]"}
  return export.Inference(fn, (run.config.model.latent_size,), "float32", meta, example)


def eval_step(state: GanState, batch, rng, *, config, spec) -> dict:
  """Per row: D's output on a held-out real image and on a generated one (fixed latents per batch)."""
  model = make_model(config, spec)
  real = batch["inputs"] * 2.0 - 1.0
  fake = generate(state, jax.random.normal(rng, (real.shape[0], config.model.latent_size)), config=config,
                  spec=spec)
  discriminate = lambda x: model.apply({"params": state.params}, x, train=False, method=DCGAN.discriminate)
  return {"real_out": discriminate(real), "fake_out": discriminate(fake)}


def summarize(outputs, *, config, data) -> dict:
  del data
  real, fake = outputs["real_out"], outputs["fake_out"]
  wasserstein = config.gan.loss == "wgan_gp"
  real_acc, fake_acc = _d_accuracies(real, fake, wasserstein)
  loss = wasserstein_d_loss(real, fake) if wasserstein else nonsaturating_d_loss(real, fake)
  return {"d_loss": float(loss), "d_real_accuracy": float(real_acc), "d_fake_accuracy": float(fake_acc)}


def _throughput(config, spec):
  del spec
  return "images", config.train.batch_size


WORKLOAD = Workload(
    sections=with_common(data=generative.DATA_SECTION, g_optimizer=OPTIMIZER_SECTION, d_optimizer=OPTIMIZER_SECTION,
                         gan=GAN_SECTION, generative=generative.GENERATIVE_SECTION),
    make_data=generative.make_data, num_train_steps=generative.num_train_steps, init_state=init_state,
    train_step=train_step, eval_step=eval_step, summarize=summarize,
    report=functools.partial(generative.report, generate=generate, init_state=init_state),
    guarded_metrics=("d_loss", "g_loss"),
    curve_metrics=("d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy", "gradient_penalty"),
    throughput=_throughput, config_checks={"model.name": v.one_of("dcgan")},
    modes={**generative.modes(generate), "export": export_mode(inference)}, on_evaluation=functools.partial(generative.on_evaluation, generate=generate))
