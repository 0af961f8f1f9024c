r"""A small CNN on scikit-learn's bundled 8x8 digits: the quickest real-data run.

  python -m launch.main --config=configs/cnn_digits.py --workdir=runs/digits

Hardware: 2-core CPU. Time: < 1 minute. Expected: ~98% test accuracy on the fixed
20% test split. `:tiny` (a few steps) is what the end-to-end tests run.
"""
import ml_collections


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

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adam"          # sgd | adam | adamw | rmsprop
  c.optimizer.learning_rate = 3e-3
  c.optimizer.schedule = "warmup_cosine"  # constant | warmup_cosine | onecycle
  c.optimizer.warmup_steps = 20
  c.optimizer.final_lr_fraction = 0.0
  c.optimizer.momentum = 0.9         # sgd and rmsprop.
  c.optimizer.nesterov = False       # sgd.
  c.optimizer.b1 = 0.9               # adam / adamw.
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.rms_decay = 0.9        # rmsprop.
  c.optimizer.weight_decay = 0.0
  c.optimizer.grad_clip_norm = 1.0   # Global-norm clipping (0 = off).

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 64            # Global; must divide by the mesh's data axis.
  c.train.num_epochs = 30
  c.train.num_steps = -1             # > 0 overrides num_epochs.
  c.train.label_smoothing = 0.0
  c.train.log_every_steps = 20
  c.train.eval_every_steps = -1      # -1 = once an epoch.
  c.train.progress_bar = True

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 128

  c.checkpoint = ml_collections.ConfigDict()
  c.checkpoint.every_steps = 200
  c.checkpoint.keep = 2
  c.checkpoint.async_save = True

  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = -1                   # Devices on the data axis (-1 = all the model axis leaves).
  c.mesh.model = 1
  c.mesh.param_sharding = "replicate"  # replicate | fsdp

  if arg == "tiny":
    c.train.num_steps = 16
    c.train.log_every_steps = 4
    c.train.eval_every_steps = 8
    c.checkpoint.every_steps = 8
    c.optimizer.warmup_steps = 2
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
