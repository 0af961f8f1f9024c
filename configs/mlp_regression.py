r"""The source material's backprop example: fit y = 2x on x = 1..5 with a 1-2-1 ReLU MLP and MSE.

  python -m launch.main --config=configs/mlp_regression.py --workdir=runs/mlp_regression

Hardware: any CPU. Time: ~15 s. Expected: test MSE (on x = 1.5, 2.5, 3.5, 4.5) < 1e-3.
"""
import ml_collections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "supervised"          # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Parameter initialisation.
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.model = ml_collections.ConfigDict()
  c.model.name = "mlp"               # Key of bigmodel_jax.models.MODELS; other keys are its fields.
  c.model.hidden = (2,)              # 1 input -> 2 hidden -> 1 output.
  c.model.activation = "relu"
  c.model.dropout = 0.0
  c.model.dtype = "float32"

  c.data = ml_collections.ConfigDict()
  c.data.name = "linear_regression"  # x = 1..5, y = 2x.
  c.data.data_dir = ""
  c.data.tfds_name = ""
  c.data.validation_size = 0         # Unused: the source fixes its own validation points.
  c.data.normalize = False           # Keep x in its own units, as in the example.
  c.data.crop_padding = 0
  c.data.horizontal_flip = False

  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = "adam"          # Plain gradient descent (sgd) also fits; Adam is less seed-sensitive.
  c.optimizer.learning_rate = 0.02
  c.optimizer.schedule = "constant"  # constant | warmup_cosine | onecycle
  c.optimizer.warmup_steps = 0
  c.optimizer.final_lr_fraction = 0.0
  c.optimizer.momentum = 0.0
  c.optimizer.nesterov = False
  c.optimizer.b1 = 0.9
  c.optimizer.b2 = 0.999
  c.optimizer.eps = 1e-8
  c.optimizer.rms_decay = 0.9
  c.optimizer.weight_decay = 0.0
  c.optimizer.grad_clip_norm = 0.0

  c.train = ml_collections.ConfigDict()
  c.train.batch_size = 5             # Full batch: all five points every step.
  c.train.num_epochs = 1
  c.train.num_steps = 1500
  c.train.label_smoothing = 0.0
  c.train.log_every_steps = 100
  c.train.eval_every_steps = 500
  c.train.progress_bar = True

  c.eval = ml_collections.ConfigDict()
  c.eval.batch_size = 5

  c.checkpoint = ml_collections.ConfigDict()
  c.checkpoint.every_steps = 1500
  c.checkpoint.keep = 1
  c.checkpoint.async_save = True

  c.mesh = ml_collections.ConfigDict()
  c.mesh.data = 1                    # Five examples cannot be split over several devices.
  c.mesh.model = 1
  c.mesh.param_sharding = "replicate"

  if arg:
    raise ValueError(f"unknown variant {arg!r}; this config has none")
  return c
