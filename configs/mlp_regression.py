r"""The source material's backprop example: fit y = 2x on x = 1..5 with a 1-2-1 ReLU MLP and MSE.

  python -m launch.main --config=configs/mlp_regression.py --workdir=runs/mlp_regression

Hardware: any CPU. Time: ~15 s. Expected: test MSE (on x = 1.5, 2.5, 3.5, 4.5) < 1e-3.
"""
import ml_collections

from bigmodel_jax import config_sections as sections


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
  c.data.on_device = False           # Keep the train images (uint8) on the devices; gather batches there.

  # Full batch (all five points), Adam: plain gradient descent (sgd) fits too but is seed-sensitive.
  c.optimizer = sections.optimizer(name="adam", learning_rate=0.02)
  c.train = sections.train(batch_size=5, num_steps=1500, eval_every_steps=500)
  c.eval = sections.evaluation(batch_size=5)
  c.supervised = sections.supervised()
  c.checkpoint = sections.checkpoint(every_steps=1500, keep=1)
  c.mesh = sections.mesh(data=1)   # Five examples cannot be split over several devices.

  if arg == "tiny":   # A few seconds: the fit is not finished, the path is exercised.
    c.train.update(num_steps=100, eval_every_steps=50, log_every_steps=50)
    c.checkpoint.every_steps = 100
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
