"""Convolutional VAE: ELBO = Bernoulli reconstruction log-likelihood of the pixels in [0, 1] minus
KL(q(z|x) || N(0, I)), with the reparameterisation trick. Samples, grids and scores go through the
same path as the GAN's (`workloads/generative.py`)."""
import functools
import os

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.engine import plots
from bigmodel_jax.engine.optim import make_optimizer
from bigmodel_jax.engine.parallel import DATA_AXIS
from bigmodel_jax.engine.train_state import TrainState, ema_update
from bigmodel_jax.models import build_model
from bigmodel_jax.models.generative import VAE
from bigmodel_jax.workloads.base import Report, Workload, with_common
from bigmodel_jax.workloads.generative import common as generative

VAE_SECTION = dict(
    kl_weight=(1.0, v.NON_NEGATIVE),         # Weight of the KL term (1 = the ELBO; > 1 a beta-VAE).
)


def elbo_terms(recon_logits, targets01, mean, logvar):
  """Per image: (reconstruction = -log p(x|z), summed Bernoulli cross-entropy over pixels;
  KL(N(mean, exp(logvar)) || N(0, I)) = 0.5 * sum(exp(logvar) + mean^2 - 1 - logvar))."""
  axes = tuple(range(1, recon_logits.ndim))
  recon = jnp.sum(optax.sigmoid_binary_cross_entropy(recon_logits, targets01), axis=axes)
  kl = 0.5 * jnp.sum(jnp.exp(logvar) + jnp.square(mean) - 1.0 - logvar, axis=-1)
  return recon, kl


def make_model(config, spec) -> VAE:
  return build_model(config.model, image_shape=tuple(spec.input_shape))


def _model_and_optimizer(config, spec):
  return (make_model(config, spec),
          make_optimizer(config.optimizer, generative.num_train_steps(config, spec)))


def init_state(rng, device_data, *, config, spec) -> TrainState:
  del device_data
  model, tx = _model_and_optimizer(config, spec)
  x = jnp.zeros((1,) + tuple(spec.input_shape), jnp.float32)
  variables = model.init(rng, x, jnp.zeros((1, config.model.latent_size), jnp.float32))
  return TrainState.create(variables, tx, use_ema=config.train.ema_decay > 0)


def _losses(model, params, images01, noise, kl_weight):
  recon_logits, mean, logvar = model.apply({"params": params}, images01 * 2.0 - 1.0, noise)
  recon, kl = elbo_terms(recon_logits, images01, mean, logvar)
  return recon + kl_weight * kl, recon, kl


def train_step(state: TrainState, batch, rng, *, config, spec):
  model, tx = _model_and_optimizer(config, spec)
  images = batch["inputs"]
  noise = jax.random.normal(rng, (images.shape[0], config.model.latent_size), jnp.float32)
  noise = jax.lax.with_sharding_constraint(noise, jax.sharding.PartitionSpec(DATA_AXIS))

  def loss_fn(params):
    loss, recon, kl = _losses(model, params, images, noise, config.vae.kl_weight)
    return loss.mean(), (recon.mean(), kl.mean())

  (loss, (recon, kl)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  ema = state.ema_params
  if ema is not None:
    ema = ema_update(ema, params, state.step, config.train.ema_decay)
  state = state.replace(step=state.step + 1, params=params, opt_state=opt_state, ema_params=ema)
  return state, {"loss": loss, "reconstruction": recon, "kl": kl}


def generate(state: TrainState, z, *, config, spec, ema: bool = True):
  model = make_model(config, spec)
  params = state.eval_params() if ema else state.params
  return model.apply({"params": params}, z, method=VAE.generate)


def reconstruct(state: TrainState, images01, *, config, spec):
  """Decoder means of the posterior means, in [-1, 1]."""
  model = make_model(config, spec)
  mean, _ = model.apply({"params": state.eval_params()}, images01 * 2.0 - 1.0, method=VAE.encode)
  return generate(state, mean, config=config, spec=spec)


def eval_step(state: TrainState, batch, rng, *, config, spec) -> dict:
  model = make_model(config, spec)
  noise = jax.random.normal(rng, (batch["inputs"].shape[0], config.model.latent_size), jnp.float32)
  loss, recon, kl = _losses(model, state.eval_params(), batch["inputs"], noise, config.vae.kl_weight)
  return {"loss": loss, "reconstruction": recon, "kl": kl}


def summarize(outputs, *, config, data) -> dict:
  del config, data
  return {k: float(np.mean(outputs[k])) for k in ("loss", "reconstruction", "kl")}


def reconstruction_quality(real01, recon01) -> dict:
  """Mean PSNR (dB, pixel range 1) and SSIM (11x11 Gaussian window, sigma 1.5) over image pairs in [0, 1]."""
  real, recon = jnp.asarray(real01, jnp.float32), jnp.asarray(recon01, jnp.float32)
  return {"psnr": float(jnp.mean(dm_pix.psnr(real, recon))), "ssim": float(jnp.mean(dm_pix.ssim(real, recon)))}


def test_reconstructions(run, state, batch_size: int = 500) -> np.ndarray:
  """Reconstructions in [0, 1] of every test image, in batches of one shape (one compile)."""
  fn = jax.jit(functools.partial(reconstruct, config=run.config, spec=run.data.spec))
  real = run.data.splits["test"][0]
  n = len(real)
  padded = np.concatenate([real, np.zeros((-n % batch_size,) + real.shape[1:], real.dtype)])
  return np.concatenate([generative.to_unit(fn(state, jnp.asarray(padded[i:i + batch_size])))
                         for i in range(0, len(padded), batch_size)])[:n]


def report(run, state, outputs) -> Report:
  """The shared generative report plus reconstructions.png (test images above their reconstructions)
  and the PSNR / SSIM of every test image's reconstruction."""
  real = run.data.splits["test"][0]
  recon = test_reconstructions(run, state)
  if run.is_writer:
    plots.save_image_grid(np.concatenate([real[:10], recon[:10]]),
                          os.path.join(run.workdir, "reconstructions.png"), 10)
  result = generative.report(run, state, outputs, generate=generate, init_state=init_state)
  quality = reconstruction_quality(real, recon)
  result.metrics.update({f"reconstruction_{k}": x for k, x in quality.items()})
  return result


WORKLOAD = Workload(
    sections=with_common(data=generative.DATA_SECTION, optimizer=sections.OPTIMIZER, vae=VAE_SECTION,
                         generative=generative.GENERATIVE_SECTION),
    make_data=generative.make_data, num_train_steps=generative.num_train_steps, init_state=init_state,
    train_step=train_step, eval_step=eval_step, summarize=summarize, report=report,
    curve_metrics=("reconstruction", "kl"), throughput=lambda config, spec: ("images", config.train.batch_size),
    config_checks={"model.name": v.one_of("vae")},
    modes=generative.modes(generate), on_evaluation=functools.partial(generative.on_evaluation, generate=generate))
