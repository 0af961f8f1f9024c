r"""The default experiment: the source material's CNN on Fashion-MNIST.

  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn

Hardware: 2-core CPU (no accelerator). Time: ~9 minutes. Expected: >= 93.0% test
accuracy (see WORKSPACE.md for the measured number). `:tiny` runs 20 steps for tests.
"""
import ml_collections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "supervised"          # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameters, data order, dropout and augmentation.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "cnn"               # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.features = (32, 64)        # Conv widths, each followed by a 2x2 max-pool.
  c.model.kernel_size = 5
  c.model.padding = "SAME"
  c.model.dense_features = 128
  c.model.dropout = 0.3
  c.model.batch_norm = False         # BN after each conv (not in the source CNN).
  c.model.dtype = "float32"          # Activation dtype; "bfloat16" for mixed precision.

  c.data = ml_collections.ConfigDict()
  c.data.name = "fashion_mnist"      # Key of bigmodel_jax.data.sources.SOURCES.
  c.data.data_dir = ""               # "" = data/fashion_mnist (filled by launch.fetch_data).
  c.data.tfds_name = ""              # Dataset name when data.name == "tfds".
  c.data.validation_size = 5000      # Held out from train; test is used only at the end.
  c.data.normalize = True            # Per-channel mean/std of the train split.
  c.data.crop_padding = 2            # Random crop after zero padding (0 = off).
  c.data.horizontal_flip = True

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adamw"         # sgd | adam | adamw | rmsprop
  c.optimizer.learning_rate = 2e-3   # Peak learning rate.
  c.optimizer.schedule = "warmup_cosine"  # constant | warmup_cosine | onecycle
  c.optimizer.warmup_steps = 200
  c.optimizer.final_lr_fraction = 0.0
  c.optimizer.momentum = 0.9         # sgd and rmsprop.
  c.optimizer.nesterov = False       # sgd.
  c.optimizer.b1 = 0.9               # adam / adamw.
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.rms_decay = 0.9        # rmsprop.
  c.optimizer.weight_decay = 1e-4    # Decoupled for adamw; added to gradients otherwise.
  c.optimizer.grad_clip_norm = 0.0   # Global-norm clipping (0 = off).

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 128           # Global; must divide by the mesh's data axis.
  c.train.num_epochs = 12
  c.train.num_steps = -1             # > 0 overrides num_epochs.
  c.train.label_smoothing = 0.0
  c.train.log_every_steps = 100
  c.train.eval_every_steps = -1      # -1 = once an epoch.
  c.train.progress_bar = True

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 1000

  c.checkpoint = ml_collections.ConfigDict()
  c.checkpoint.every_steps = 1000
  c.checkpoint.keep = 3
  c.checkpoint.async_save = True

  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = -1                   # Devices on the data axis (-1 = all the model axis leaves).
  c.mesh.model = 1
  c.mesh.param_sharding = "replicate"  # replicate | fsdp

  if arg == "tiny":
    c.train.num_steps = 20
    c.train.batch_size = 32
    c.train.log_every_steps = 5
    c.train.eval_every_steps = 10
    c.checkpoint.every_steps = 10
    c.optimizer.warmup_steps = 5
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
