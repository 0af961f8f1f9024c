r"""The default experiment: a CNN classifier on Fashion-MNIST, 93% in under 10 CPU minutes.

  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn

The source material's conv -> pool -> conv -> pool -> dense -> dense, grown by one
stage: conv 3x3 16 -> pool -> conv 3x3 64 -> pool -> conv 3x3 128 -> pool ->
dense 256 -> dense 10 ('SAME' padding, batch norm after each conv), dropout 0.3,
horizontal flips, AdamW with a cosine schedule for 16 epochs, and the test images
scored together with their mirrors (flip test-time augmentation). Hardware: 2-core
CPU, no accelerator. Time: ~9 minutes. Expected: ~93.2-93.4% test accuracy
(measured 2026-11-22; WORKSPACE.md). The source's own layout is
`configs/cnn_fashion_mnist_fast.py`. `:tiny` runs 20 steps.
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
  c.model.features = (16, 64, 128)   # Conv stage widths, each stage followed by a 2x2 max-pool.
  c.model.kernel_size = 3
  c.model.padding = "SAME"           # "VALID" (the source's) shrinks 28 -> 24 before the first pool.
  c.model.convs_per_stage = 1        # Convolutions before each pool.
  c.model.dense_features = 256
  c.model.dropout = 0.3              # On the dense layer's input and output.
  c.model.batch_norm = True          # BN after each conv (not in the source CNN).
  c.model.dtype = "float32"          # Activation dtype; "bfloat16" for mixed precision.

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"      # Key of bigmodel_jax.data.sources.SOURCES.
  c.data.data_dir = ""               # "" = data/fashion_mnist (filled by launch.fetch_data).
  c.data.tfds_name = ""              # Dataset name when data.name == "tfds".
  c.data.validation_size = 5000      # Held out from train; test is used only at the end.
  c.data.normalize = True            # Per-channel mean/std of the train split.
  c.data.crop_padding = 0            # Random crop after zero padding (0 = off).
  c.data.horizontal_flip = True
  c.data.on_device = False           # Keep the train images (uint8) on the devices; gather batches there.

  c.optimizer = sections.optimizer(name="adamw", learning_rate=2e-3, schedule="warmup_cosine",
                                   warmup_steps=300, weight_decay=1e-4)
  c.train = sections.train(batch_size=64, num_epochs=16)
  c.eval = sections.evaluation(batch_size=1000)
  c.supervised = sections.supervised(flip_tta=True)
  c.checkpoint = sections.checkpoint(every_steps=1000)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.train.update(num_steps=20, batch_size=32, log_every_steps=5, eval_every_steps=10)
    c.checkpoint.every_steps = 10
    c.optimizer.warmup_steps = 5
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
