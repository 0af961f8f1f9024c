r"""A small CNN on scikit-learn's bundled 8x8 digits: the quickest real-data run.

  python -m launch.main --config=configs/cnn_digits.py --workdir=runs/digits

Hardware: 2-core CPU. Time: < 1 minute. Expected: ~98% test accuracy on the fixed
20% test split. `:tiny` (a few steps) is what the end-to-end tests run.
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "supervised"          # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, data order, dropout and augmentation.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "cnn"               # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.features = (16, 32)        # Conv widths, each followed by a 2x2 max-pool: 8x8 -> 2x2.
  c.model.kernel_size = 3
  c.model.padding = "SAME"
  c.model.dense_features = 64
  c.model.dropout = 0.1
  c.model.batch_norm = False         # BN after each conv (not in the source CNN).
  c.model.dtype = "float32"          # Activation dtype; "bfloat16" for mixed precision.

  c.data = ml_collections.ConfigDict()
  c.data.name = "digits"             # Key of bigmodel_jax.data.sources.SOURCES.
  c.data.data_dir = ""               # Unused: the data ships with scikit-learn.
  c.data.tfds_name = ""
  c.data.validation_size = 160       # Held out from the 1438 training images.
  c.data.normalize = True
  c.data.crop_padding = 1
  c.data.horizontal_flip = False     # Digits are not mirror-symmetric.
  c.data.on_device = False           # Keep the train images (uint8) on the devices; gather batches there.

  c.optimizer = sections.optimizer(name="adam", learning_rate=3e-3, schedule="warmup_cosine",
                                   warmup_steps=20, grad_clip_norm=1.0)
  c.train = sections.train(batch_size=64, num_epochs=30, log_every_steps=20)
  c.eval = sections.evaluation(batch_size=128)
  c.supervised = sections.supervised()
  c.checkpoint = sections.checkpoint(every_steps=200, keep=2)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.train.update(num_steps=16, log_every_steps=4, eval_every_steps=8)
    c.checkpoint.every_steps = 8
    c.optimizer.warmup_steps = 2
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
