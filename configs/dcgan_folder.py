r"""DCGAN on a folder of your own images at 128x128 RGB: the source material's image-folder GAN.

  python -m launch.main --config=configs/dcgan_folder.py --workdir=runs/dcgan_folder \
      --config.data.data_dir=/path/to/images
  python -m launch.main --config=configs/dcgan_folder.py --workdir=runs/dcgan_folder \
      --config.data.data_dir=/path/to/images --mode=sample --num_samples=64

The folder holds PNG/JPEG files, directly or one subfolder per class; each is resized to
128x128 (`data.image_size`, `data.image_channels=1` for grey) and a fixed tenth is held
out for the discriminator's validation accuracy. z = 100; generator dense 8x8x256 ->
transposed convs 128 -> 64 -> 32 -> 3 (batch norm, ReLU, tanh); discriminator strided
convs 32 -> 64 -> 128 -> 256, LeakyReLU; Adam with the source's rates, D 1e-4 and
G 5e-5 (b1 = 0.5). No classifier exists for an arbitrary folder, so the run is judged
as the source judges it: the sample grids (samples/), the discriminator's accuracy on
real and generated images (val/d_real_accuracy, val/d_fake_accuracy) and the losses.
Hardware: a GPU (a 128x128 GAN is hours on a 2-core CPU). Tested only on small folders
of generated images (tests/test_generative_coverage.py); no measured result.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.generative import common as generative


def get_config(arg=None):
  c = experiment(
      "gan",
      model=sections.model("dcgan", latent_size=100, generator_features=(256, 128, 64, 32),
                           discriminator_features=(32, 64, 128, 256), init_stddev=0.02),
      data=dict(name="folder", data_dir="data/images", image_size=128, image_channels=3),
      g_optimizer=dict(learning_rate=5e-5),
      d_optimizer=dict(learning_rate=1e-4),
      train=dict(batch_size=32, num_steps=20_000, ema_decay=0.999, eval_every_steps=1000))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  """16x16 images of the folder given by --config.data.data_dir, a few steps."""
  generative.tiny(c)
  c.data.update(name="folder", image_size=16)
  c.model.update(latent_size=8, generator_features=(16, 8), discriminator_features=(8, 16))
