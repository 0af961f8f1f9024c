r"""DCGAN on CIFAR-10 (32x32 RGB) from TFDS: needs internet on first use (TensorFlow not needed).

  python -m launch.main --config=configs/cnn_cifar10.py --workdir=runs/cnn_cifar10
  python -m launch.main --config=configs/dcgan_cifar10.py --workdir=runs/dcgan_cifar10

The scores need a classifier of the same images: the first command (configs/cnn_cifar10.py).
Generator z(100) -> 4x4x256 -> transposed convs 128 -> 64 -> 3 (32x32); discriminator
strided convs 64 -> 128 -> 256. Hardware: a GPU (tens of minutes on this 2-core CPU for
a handful of epochs). Not run here (no internet, no accelerator): no measured result.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.generative import common as generative


def get_config(arg=None):
  c = experiment(
      "gan",
      model=sections.model("dcgan", generator_features=(256, 128, 64), discriminator_features=(64, 128, 256)),
      data=dict(name="tfds", tfds_name="cifar10"),
      generative=dict(classifier_workdir="runs/cnn_cifar10"),
      train=dict(batch_size=64, num_steps=20_000, ema_decay=0.999, eval_every_steps=1000))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  generative.tiny(c)
  c.model.update(latent_size=8, generator_features=(16, 8), discriminator_features=(8, 16))
