r"""DCGAN on Fashion-MNIST with the source material's non-saturating losses (the default generative config).

  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fashion_mnist_fast
  python -m launch.main --config=configs/dcgan_fashion_mnist.py --workdir=runs/dcgan_fashion_mnist
  python -m launch.main --config=configs/dcgan_fashion_mnist.py --workdir=runs/dcgan_fashion_mnist \
      --mode=sample --num_samples=64

The first command trains the classifier whose features score the samples (~1.5
minutes). Generator z(100) -> dense 7x7x64 -> transposed convs 32 -> 1 with batch norm
and ReLU -> tanh; discriminator strided convs 32 -> 64, LeakyReLU, dropout. Both nets
use Adam(2e-4, b1=0.5), the DCGAN paper's setting (the source's D 1e-4 / G 5e-5 are
`--config.d_optimizer.learning_rate=1e-4 --config.g_optimizer.learning_rate=5e-5`; not
compared here); samples and scores use an EMA of the generator. Hardware: 2-core CPU.
Measured 2026-11-23 on an otherwise idle 2-core CPU: 6000 steps in 433 s of training
(7.2 minutes, ~900 images/s; compile 4 s); Fréchet distance 88.8 against a real-vs-real
floor of 1.0 and 400.6 for the untrained generator (78% of the gap closed; the target is
97%), class score 3.8 (real images 8.2). The same run under heavy load gave the same
numbers bit for bit in 2423 s. summary.json holds these scores; WORKSPACE.md ("Generative models").
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "gan"                 # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, latents and data order.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "dcgan"             # bigmodel_jax.models.generative.DCGAN
  c.model.latent_size = 100          # z ~ N(0, I), as in the source.
  c.model.generator_features = (64, 32)       # Widths at 7x7 and 14x14 (one upsampling stage each).
  c.model.discriminator_features = (32, 64)   # Widths of the stride-2 convolutions (14x14, 7x7).
  c.model.kernel_size = 4
  c.model.dropout = 0.3              # Discriminator only.
  c.model.dtype = "float32"

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"      # Key of bigmodel_jax.data.sources.SOURCES (tfds: data.tfds_name).
  c.data.data_dir = ""               # "" = data/fashion_mnist (filled by launch.fetch_data).
  c.data.tfds_name = ""
  c.data.validation_size = 5000      # Held out from train; D's accuracy on it is logged as val/.
  c.data.normalize = False           # Must stay False: pixels are scaled to [-1, 1] in the step.
  c.data.crop_padding = 0
  c.data.horizontal_flip = False
  c.data.on_device = False

  c.g_optimizer = sections.optimizer(name="adam", learning_rate=2e-4, b1=0.5)
  c.d_optimizer = sections.optimizer(name="adam", learning_rate=2e-4, b1=0.5)
  c.train = sections.train(batch_size=64, num_epochs=1, num_steps=6000, log_every_steps=100,
                           eval_every_steps=1000)   # A sample grid at every evaluation.
  c.eval = sections.evaluation(batch_size=1000)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh()

  c.gan = ml_collections.ConfigDict()
  c.gan.loss = "nonsaturating"       # nonsaturating (the source's) | wgan_gp
  c.gan.critic_steps = 1             # Discriminator updates per generator update.
  c.gan.gp_weight = 10.0             # wgan_gp: weight of the gradient penalty.
  c.gan.ema_decay = 0.999            # EMA of the generator's weights for samples and scores (0 = off).

  c.generative = ml_collections.ConfigDict()
  c.generative.classifier_workdir = "runs/cnn_fashion_mnist_fast"  # Scores' classifier run ("" = no scores).
  c.generative.score_samples = 5000  # Generated images per score, and the size of each real half.
  c.generative.grid_rows = 10        # Sample grids are grid_rows x grid_rows.

  if arg == "tiny":
    tiny(c)
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c


def tiny(c):
  """Seconds on a laptop: 16x16 synthetic images, narrow nets, 12 steps, no scores."""
  c.data.name = "synthetic"
  c.data.validation_size = 64
  c.model.update(latent_size=8, generator_features=(16, 8), discriminator_features=(8, 16))
  c.train.update(batch_size=16, num_steps=12, log_every_steps=3, eval_every_steps=6)
  c.eval.batch_size = 32
  c.checkpoint.every_steps = 6
  c.generative.update(classifier_workdir="", score_samples=32, grid_rows=4)
