r"""Convolutional VAE on Fashion-MNIST, scored like the GANs (same grids, same classifier).

  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fashion_mnist_fast
  python -m launch.main --config=configs/vae_fashion_mnist.py --workdir=runs/vae_fashion_mnist

Encoder strided convs 32 -> 64 -> (mean, log-variance) of a 16-d latent; decoder
dense 7x7x64 -> transposed convs 32 -> 1 giving Bernoulli logits of the [0, 1] pixels.
Loss: the negative ELBO (reconstruction cross-entropy summed over pixels + KL).
Samples are the decoder's mean images of z ~ N(0, I). Hardware: 2-core CPU. Measured
2026-11-23 with the CPU shared by three other jobs: 3000 steps in 832 s of training;
test negative ELBO 246.8, Fréchet distance 115.4 (floor 1.0, untrained 399.1: 71% of
the gap), class score 3.9. WORKSPACE.md ("Generative models").
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "vae"                 # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, latents and data order.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "vae"               # bigmodel_jax.models.generative.VAE
  c.model.latent_size = 16
  c.model.encoder_features = (32, 64)   # Stride-2 convolutions (14x14, 7x7).
  c.model.decoder_features = (64, 32)   # Widths at 7x7 and 14x14 (one upsampling stage each).
  c.model.kernel_size = 4
  c.model.dtype = "float32"

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"      # Key of bigmodel_jax.data.sources.SOURCES (tfds: data.tfds_name).
  c.data.data_dir = ""               # "" = data/fashion_mnist (filled by launch.fetch_data).
  c.data.tfds_name = ""
  c.data.validation_size = 5000      # Held out from train; its ELBO terms are logged as val/.
  c.data.normalize = False           # Must stay False: the likelihood is over pixels in [0, 1].
  c.data.crop_padding = 0
  c.data.horizontal_flip = False
  c.data.on_device = False

  c.optimizer = sections.optimizer(name="adam", learning_rate=1e-3)
  c.train = sections.train(batch_size=64, num_epochs=1, num_steps=3000, log_every_steps=100,
                           eval_every_steps=1000)   # A sample grid at every evaluation.
  c.eval = sections.evaluation(batch_size=1000)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh()

  c.vae = ml_collections.ConfigDict()
  c.vae.kl_weight = 1.0              # 1 = the ELBO.
  c.vae.ema_decay = 0.0              # EMA of the weights for samples and scores (0 = off).

  c.generative = ml_collections.ConfigDict()
  c.generative.classifier_workdir = "runs/cnn_fashion_mnist_fast"  # Scores' classifier run ("" = no scores).
  c.generative.score_samples = 5000  # Generated images per score, and the size of each real half.
  c.generative.grid_rows = 10        # Sample grids are grid_rows x grid_rows.

  if arg == "tiny":
    c.data.name = "synthetic"
    c.data.validation_size = 64
    c.model.update(latent_size=4, encoder_features=(8, 16), decoder_features=(16, 8))
    c.train.update(batch_size=16, num_steps=12, log_every_steps=3, eval_every_steps=6)
    c.eval.batch_size = 32
    c.checkpoint.every_steps = 6
    c.generative.update(classifier_workdir="", score_samples=32, grid_rows=4)
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
