r"""DCGAN on CIFAR-10 (32x32 RGB) from TFDS: needs internet on first use (TensorFlow not needed).

  python -m launch.main --config=configs/cnn_cifar10.py --workdir=runs/cnn_cifar10
  python -m launch.main --config=configs/dcgan_cifar10.py --workdir=runs/dcgan_cifar10

The scores need a classifier of the same images: the first command (configs/cnn_cifar10.py).
Generator z(100) -> 4x4x256 -> transposed convs 128 -> 64 -> 3 (32x32); discriminator
strided convs 64 -> 128 -> 256. Hardware: a GPU (tens of minutes on this 2-core CPU for
a handful of epochs). Not run here (no internet, no accelerator): no measured result.
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
  c.model.generator_features = (256, 128, 64)  # Widths at 4x4, 8x8 and 16x16.
  c.model.discriminator_features = (64, 128, 256)  # Stride-2 convolutions (16x16, 8x8, 4x4).
  c.model.kernel_size = 4
  c.model.dropout = 0.3              # Discriminator only.
  c.model.dtype = "float32"

  c.data = ml_collections.ConfigDict()
  c.data.name = "tfds"               # Key of bigmodel_jax.data.sources.SOURCES (tfds: data.tfds_name).
  c.data.data_dir = ""               # "" = TFDS' default directory.
  c.data.tfds_name = "cifar10"
  c.data.validation_size = 5000      # Held out from train; D's accuracy on it is logged as val/.
  c.data.normalize = False           # Must stay False: pixels are scaled to [-1, 1] in the step.
  c.data.crop_padding = 0
  c.data.horizontal_flip = False
  c.data.on_device = False

  c.g_optimizer = sections.optimizer(name="adam", learning_rate=2e-4, b1=0.5)
  c.d_optimizer = sections.optimizer(name="adam", learning_rate=2e-4, b1=0.5)
  c.train = sections.train(batch_size=64, num_epochs=1, num_steps=20000, log_every_steps=100,
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
  c.generative.classifier_workdir = "runs/cnn_cifar10"  # Scores' classifier run ("" = no scores).
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
