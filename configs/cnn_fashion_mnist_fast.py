r"""Time-to-accuracy recipe: a source-style CNN to 91% Fashion-MNIST test accuracy, fast.

  python -m launch.benchmark_time_to_accuracy          # against the source's Keras CNN
  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fast

The source's conv 5x5 32 -> pool -> conv 5x5 64 -> pool -> dense 128 -> dense 10
('VALID', the fastest layout on CPU) with batch norm. Hardware: 2-core CPU. Time:
~1.5 minutes. Expected: 91% test accuracy after ~2.5 epochs, ~61 s of training
(measured 2026-11-22; WORKSPACE.md). What makes it fast: batch norm, a one-cycle
schedule with a high peak learning rate, no regularisation, evaluation every
quarter epoch.
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "supervised"          # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters and data order.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "cnn"               # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.features = (32, 64)        # conv 32 -> pool -> conv 64 -> pool, as in the source.
  c.model.kernel_size = 5
  c.model.padding = "VALID"
  c.model.dense_features = 128
  c.model.dropout = 0.0
  c.model.batch_norm = True          # BN after each conv (not in the source CNN).
  c.model.dtype = "float32"

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"      # Key of bigmodel_jax.data.sources.SOURCES.
  c.data.data_dir = ""               # "" = data/fashion_mnist (filled by launch.fetch_data).
  c.data.tfds_name = ""
  c.data.validation_size = 5000      # Held out from train.
  c.data.normalize = True
  c.data.crop_padding = 0
  c.data.horizontal_flip = False
  c.data.on_device = False           # Keep the train images (uint8) on the devices; gather batches there.

  c.optimizer = sections.optimizer(name="adam", learning_rate=4e-3, schedule="onecycle", warmup_steps=400)
  c.train = sections.train(batch_size=64, num_epochs=3, eval_every_steps=215)  # ~4 evaluations an epoch.
  c.eval = sections.evaluation(batch_size=1000)
  c.supervised = sections.supervised()
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.train.update(num_steps=20, batch_size=32, log_every_steps=5, eval_every_steps=10)
    c.checkpoint.every_steps = 10
    c.optimizer.warmup_steps = 5
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
