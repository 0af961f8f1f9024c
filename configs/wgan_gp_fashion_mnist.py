r"""WGAN-GP on Fashion-MNIST: the DCGAN nets with the Wasserstein loss and a gradient penalty.

  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fashion_mnist_fast
  python -m launch.main --config=configs/wgan_gp_fashion_mnist.py --workdir=runs/wgan_gp_fashion_mnist

Same nets and data as configs/dcgan_fashion_mnist.py; the critic has no dropout
(the penalty wants a deterministic critic), 5 critic updates per generator update
and Adam(1e-4, b1=0.5, b2=0.9), the WGAN-GP paper's settings with a higher rate.
Hardware: 2-core CPU. Measured 2026-11-23 with no other job: 2000 steps in 625 s of
training (10.4 min, ~206 images/s, compile 4 s); Fréchet distance 131.8 (floor 1.0,
untrained 400.6: 67% of the gap closed), class score 3.1; WORKSPACE.md ("Generative models").
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
  c.model.dropout = 0.0              # Critic only; none with the gradient penalty.
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

  c.g_optimizer = sections.optimizer(name="adam", learning_rate=1e-4, b1=0.5, b2=0.9)
  c.d_optimizer = sections.optimizer(name="adam", learning_rate=1e-4, b1=0.5, b2=0.9)
  c.train = sections.train(batch_size=64, num_epochs=1, num_steps=2000, log_every_steps=100,
                           eval_every_steps=1000)   # A sample grid at every evaluation.
  c.eval = sections.evaluation(batch_size=1000)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh()

  c.gan = ml_collections.ConfigDict()
  c.gan.loss = "wgan_gp"             # nonsaturating (the source's) | wgan_gp
  c.gan.critic_steps = 5             # Critic updates per generator update.
  c.gan.gp_weight = 10.0             # wgan_gp: weight of the gradient penalty.
  c.gan.ema_decay = 0.999            # EMA of the generator's weights for samples and scores (0 = off).

  c.generative = ml_collections.ConfigDict()
  c.generative.classifier_workdir = "runs/cnn_fashion_mnist_fast"  # Scores' classifier run ("" = no scores).
  c.generative.score_samples = 5000  # Generated images per score, and the size of each real half.
  c.generative.grid_rows = 10        # Sample grids are grid_rows x grid_rows.

  if arg == "tiny":
    tiny(c)
    c.gan.critic_steps = 2
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
