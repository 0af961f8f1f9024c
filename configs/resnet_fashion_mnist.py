r"""A small pre-activation ResNet (batch norm, dropout) on Fashion-MNIST: the stronger model.

  python -m launch.main --config=configs/resnet_fashion_mnist.py --workdir=runs/resnet

Hardware: one GPU (~0.5 GFLOP per training image: a 2-core CPU needs ~5.4 minutes
an epoch, ~3.6 hours for the 40). Expected: >= 95% test accuracy after 40 epochs,
minutes on a recent GPU; WORKSPACE.md says what has been measured. `:tiny` runs a few steps of a 2-block net.
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "supervised"          # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, data order, dropout and augmentation.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "resnet"            # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.stage_sizes = (2, 2, 2)    # Pre-activation blocks per stage; stride 2 between stages.
  c.model.widths = (32, 64, 128)
  c.model.dropout = 0.2              # Before the classifier.
  c.model.dtype = "float32"          # "bfloat16" on GPUs/TPUs for mixed precision.

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"      # Key of bigmodel_jax.data.sources.SOURCES.
  c.data.data_dir = ""               # "" = data/fashion_mnist (filled by launch.fetch_data).
  c.data.tfds_name = ""
  c.data.validation_size = 5000      # Held out from train; test is used only at the end.
  c.data.normalize = True
  c.data.crop_padding = 2            # Random 28x28 crops of the image padded to 32x32.
  c.data.horizontal_flip = True
  c.data.on_device = False           # Keep the train images (uint8) on the devices; gather batches there.

  c.optimizer = sections.optimizer(name="sgd", learning_rate=0.1, momentum=0.9, nesterov=True,
                                   schedule="warmup_cosine", warmup_steps=500, weight_decay=5e-4)
  c.train = sections.train(batch_size=128, num_epochs=40)
  c.supervised = sections.supervised(label_smoothing=0.1)
  c.eval = sections.evaluation(batch_size=1000)
  c.checkpoint = sections.checkpoint(every_steps=2000)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.model.update(stage_sizes=(1, 1), widths=(8, 16))
    c.train.update(num_steps=20, batch_size=32, log_every_steps=5, eval_every_steps=10)
    c.checkpoint.every_steps = 10
    c.optimizer.warmup_steps = 5
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
