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
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.generative import common as generative


def get_config(arg=None):
  c = experiment(
      "gan",
      # The DCGAN paper's discriminator: no dropout, N(0, 0.02) weights (WORKSPACE.md, "Coverage").
      model=sections.model("dcgan", generator_features=(64, 32), discriminator_features=(32, 64), dropout=0.0,
                           init_stddev=0.02),
      generative=dict(classifier_workdir="runs/cnn_fashion_mnist_fast"),
      train=dict(batch_size=64, num_steps=6000, ema_decay=0.999, eval_every_steps=1000))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  generative.tiny(c)
  c.model.update(latent_size=8, generator_features=(16, 8), discriminator_features=(8, 16))
