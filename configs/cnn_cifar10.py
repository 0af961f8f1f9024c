r"""The source material's CIFAR-10 CNN (3x3 variant), on TFDS `cifar10` (downloads on first run).

  python -m launch.main --config=configs/cnn_cifar10.py --workdir=runs/cnn_cifar10

conv 3x3 32 -> pool -> conv 3x3 64 -> pool -> dense 64 -> dense 10 logits, Adam,
10 epochs; writes the train/validation accuracy curves and the 5x5 "true - predicted"
test grid of the source. Hardware: 2-core CPU, ~15 minutes (a GPU: ~1 minute).
Expected: ~70% test accuracy for this small network. Needs internet for TFDS; not
yet measured (see WORKSPACE.md).
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "supervised"          # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, data order and augmentation.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "cnn"               # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.features = (32, 64)        # Conv widths, each followed by a 2x2 max-pool.
  c.model.kernel_size = 3
  c.model.padding = "VALID"
  c.model.dense_features = 64
  c.model.dropout = 0.0
  c.model.batch_norm = False
  c.model.dtype = "float32"

  c.data = ml_collections.ConfigDict()
  c.data.name = "tfds"               # Key of bigmodel_jax.data.sources.SOURCES.
  c.data.data_dir = ""               # TFDS data_dir ("" = the TFDS default, ~/tensorflow_datasets).
  c.data.tfds_name = "cifar10"
  c.data.validation_size = 5000      # Held out from train; test is used only at the end.
  c.data.normalize = True
  c.data.crop_padding = 0            # 4 with horizontal_flip=True is the usual CIFAR augmentation.
  c.data.horizontal_flip = False
  c.data.on_device = False           # Keep the train images (uint8) on the devices; gather batches there.

  c.optimizer = sections.optimizer(name="adam", learning_rate=1e-3)
  c.train = sections.train(batch_size=64, num_epochs=10)
  c.eval = sections.evaluation(batch_size=1000)
  c.supervised = sections.supervised()
  c.checkpoint = sections.checkpoint(every_steps=2000)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.train.update(num_steps=20, log_every_steps=5, eval_every_steps=10)
    c.checkpoint.every_steps = 10
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
