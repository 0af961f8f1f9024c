r"""The source material's CIFAR-10 CNN (3x3 variant), on TFDS `cifar10` (downloads on first run).

  python -m launch.main --config=configs/cnn_cifar10.py --workdir=runs/cnn_cifar10

conv 3x3 32 -> pool -> conv 3x3 64 -> pool -> dense 64 -> dense 10 logits, Adam,
10 epochs; writes the train/validation accuracy curves and the 5x5 "true - predicted"
test grid of the source. Hardware: 2-core CPU, ~15 minutes (a GPU: ~1 minute).
Expected: ~70% test accuracy for this small network. Needs internet for TFDS; not
yet measured (see WORKSPACE.md).
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("cnn", kernel_size=3, dense_features=64),
      data=dict(name="tfds", tfds_name="cifar10"),
      train=dict(batch_size=64),
      checkpoint=dict(every_steps=2000))
  return sections.with_variant(c, arg, tiny=lambda c: sections.short_run(
      c, num_steps=20, log_every=5, eval_every=10, checkpoint_every=10))
