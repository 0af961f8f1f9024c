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
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.generative import common as generative


def get_config(arg=None):
  c = experiment(
      "gan",
      model=sections.model("dcgan", generator_features=(64, 32), discriminator_features=(32, 64),
                           dropout=0.0),
      g_optimizer=dict(learning_rate=1e-4, b2=0.9),
      d_optimizer=dict(learning_rate=1e-4, b2=0.9),
      gan=dict(loss="wgan_gp", critic_steps=5),
      generative=dict(classifier_workdir="runs/cnn_fashion_mnist_fast"),
      train=dict(batch_size=64, num_steps=2000, ema_decay=0.999, eval_every_steps=1000))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  generative.tiny(c)
  c.model.update(latent_size=8, generator_features=(16, 8), discriminator_features=(8, 16))
  c.gan.critic_steps = 2
