"""Generative models of images: DCGAN (generator + discriminator) and a convolutional VAE.

Images are NHWC in [-1, 1]. Both models upsample from an (H / 2^n) x (W / 2^n)
base with n = len(features) stride-2 transposed convolutions, so H and W must
divide by 2^n (28x28 with two stages: 7 -> 14 -> 28; 32x32: 8 -> 16 -> 32).
"""
from typing import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models.common import DTYPES, BatchNorm, compute_dtype


def base_size(image_shape, stages: int) -> tuple[int, int]:
  h, w = image_shape[0], image_shape[1]
  if stages < 1 or h % 2**stages or w % 2**stages:
    raise ConfigError(f"images of {h}x{w} cannot be made by {stages} stride-2 upsampling stage(s); "
                      f"height and width must divide by {2**stages}")
  return h // 2**stages, w // 2**stages


def kernel_init(stddev: float):
  """N(0, stddev) weights (the DCGAN paper's 0.02), or Flax's default (LeCun normal) for 0."""
  return nn.initializers.normal(stddev) if stddev > 0 else nn.linear.default_kernel_init


class Generator(nn.Module):
  """z -> dense -> reshape -> [transposed conv -> BN -> ReLU] per width -> transposed conv -> tanh.
  No bias before a batch norm (its shift replaces it)."""
  image_shape: tuple
  features: Sequence[int]
  kernel_size: int
  dtype: str
  init_stddev: float = 0.0

  @nn.compact
  def __call__(self, z_BxZ, *, train: bool):
    dtype, init = compute_dtype(self.dtype), kernel_init(self.init_stddev)
    h, w = base_size(self.image_shape, len(self.features))
    x = nn.Dense(h * w * self.features[0], use_bias=False, dtype=dtype, kernel_init=init)(z_BxZ.astype(dtype))
    x = x.reshape(x.shape[0], h, w, self.features[0])
    x = nn.relu(BatchNorm(use_running_average=not train, dtype=dtype)(x))
    k = (self.kernel_size, self.kernel_size)
    for width in self.features[1:]:
      x = nn.ConvTranspose(width, k, strides=(2, 2), padding="SAME", use_bias=False, dtype=dtype,
                           kernel_init=init)(x)
      x = nn.relu(BatchNorm(use_running_average=not train, dtype=dtype)(x))
    x = nn.ConvTranspose(self.image_shape[-1], k, strides=(2, 2), padding="SAME", dtype=dtype, kernel_init=init)(x)
    return jnp.tanh(x.astype(jnp.float32))


class Discriminator(nn.Module):
  """[strided conv -> LeakyReLU(0.2) -> dropout] per width -> dense -> one logit per image.

  No batch norm, so each image's logit depends on that image alone (which the
  WGAN-GP gradient penalty assumes).
  """
  features: Sequence[int]
  kernel_size: int
  dropout: float
  dtype: str
  init_stddev: float = 0.0

  @nn.compact
  def __call__(self, x_BxHxWxC, *, train: bool):
    dtype, init = compute_dtype(self.dtype), kernel_init(self.init_stddev)
    x = x_BxHxWxC.astype(dtype)
    for width in self.features:
      x = nn.Conv(width, (self.kernel_size, self.kernel_size), strides=(2, 2), padding="SAME", dtype=dtype,
                  kernel_init=init)(x)
      x = nn.Dropout(self.dropout, deterministic=not train)(nn.leaky_relu(x, 0.2))
    return nn.Dense(1, dtype=dtype, kernel_init=init)(x.reshape(x.shape[0], -1)).astype(jnp.float32)[:, 0]


class DCGAN(nn.Module):
  """Generator and discriminator in one parameter tree: {"generator": ..., "discriminator": ...}."""
  image_shape: tuple
  latent_size: int = 100
  generator_features: Sequence[int] = (128, 64)   # Widths from the base resolution up; one stage each.
  discriminator_features: Sequence[int] = (64, 128)
  kernel_size: int = 4
  dropout: float = 0.3                            # Discriminator dropout (the DCGAN paper has none).
  init_stddev: float = 0.0                        # N(0, init_stddev) weights; 0 = Flax's LeCun normal.
  dtype: str = "float32"

  CONFIG_CHECKS = {"latent_size": v.POSITIVE_INT, "generator_features": v.each(v.POSITIVE_INT),
                   "discriminator_features": v.each(v.POSITIVE_INT), "kernel_size": v.POSITIVE_INT,
                   "dropout": v.PROBABILITY, "init_stddev": v.NON_NEGATIVE, "dtype": v.one_of(*DTYPES)}

  def setup(self):
    self.generator = Generator(tuple(self.image_shape), tuple(self.generator_features), self.kernel_size,
                               self.dtype, self.init_stddev)
    self.discriminator = Discriminator(tuple(self.discriminator_features), self.kernel_size, self.dropout,
                                       self.dtype, self.init_stddev)

  def __call__(self, z_BxZ, *, train: bool):
    """Both nets (used to initialise them): D's logits of G(z)."""
    return self.discriminator(self.generator(z_BxZ, train=train), train=train)

  def generate(self, z_BxZ, *, train: bool):
    return self.generator(z_BxZ, train=train)

  def discriminate(self, x_BxHxWxC, *, train: bool):
    return self.discriminator(x_BxHxWxC, train=train)


class VAE(nn.Module):
  """Convolutional VAE: strided convs -> (mean, log-variance) of q(z|x); dense -> transposed convs ->
  per-pixel Bernoulli logits of p(x|z) over pixel intensities in [0, 1]."""
  image_shape: tuple
  latent_size: int = 16
  encoder_features: Sequence[int] = (32, 64)
  decoder_features: Sequence[int] = (64, 32)
  kernel_size: int = 4
  dtype: str = "float32"

  CONFIG_CHECKS = {"latent_size": v.POSITIVE_INT, "encoder_features": v.each(v.POSITIVE_INT),
                   "decoder_features": v.each(v.POSITIVE_INT), "kernel_size": v.POSITIVE_INT,
                   "dtype": v.one_of(*DTYPES)}

  def setup(self):
    dtype = compute_dtype(self.dtype)
    k = (self.kernel_size, self.kernel_size)
    self.base = base_size(self.image_shape, len(self.decoder_features))
    self.encoder_convs = [nn.Conv(f, k, strides=(2, 2), padding="SAME", dtype=dtype)
                          for f in self.encoder_features]
    self.posterior = nn.Dense(2 * self.latent_size, dtype=dtype)
    self.decoder_in = nn.Dense(self.base[0] * self.base[1] * self.decoder_features[0], dtype=dtype)
    self.decoder_convs = [nn.ConvTranspose(f, k, strides=(2, 2), padding="SAME", dtype=dtype)
                          for f in self.decoder_features[1:]]
    self.decoder_out = nn.ConvTranspose(self.image_shape[-1], k, strides=(2, 2), padding="SAME", dtype=dtype)

  def encode(self, x_BxHxWxC):
    x = x_BxHxWxC.astype(compute_dtype(self.dtype))
    for conv in self.encoder_convs:
      x = nn.relu(conv(x))
    stats = self.posterior(x.reshape(x.shape[0], -1)).astype(jnp.float32)
    return stats[:, :self.latent_size], stats[:, self.latent_size:]   # mean, log-variance

  def decode_logits(self, z_BxZ):
    x = nn.relu(self.decoder_in(z_BxZ.astype(compute_dtype(self.dtype))))
    x = x.reshape(x.shape[0], *self.base, self.decoder_features[0])
    for conv in self.decoder_convs:
      x = nn.relu(conv(x))
    return self.decoder_out(x).astype(jnp.float32)

  def generate(self, z_BxZ, *, train: bool = False):
    """Images in [-1, 1]: the decoder's mean intensity 2 * sigmoid(logits) - 1."""
    del train
    return 2.0 * jax.nn.sigmoid(self.decode_logits(z_BxZ)) - 1.0

  def __call__(self, x_BxHxWxC, noise_BxZ):
    """(reconstruction logits, mean, log-variance) with z = mean + exp(logvar / 2) * noise."""
    mean, logvar = self.encode(x_BxHxWxC)
    z = mean + jnp.exp(0.5 * logvar) * noise_BxZ
    return self.decode_logits(z), mean, logvar
