r"""The source material's CIFAR-10 CNN: three 3x3 convolutions, on TFDS `cifar10`.

  python -m launch.main --config=configs/cnn_cifar10.py --workdir=runs/cnn_cifar10
  python -m launch.main --config=configs/cnn_cifar10.py:fashion_mnist --workdir=runs/cnn_cifar10_fm

conv 3x3 32 -> pool -> conv 3x3 64 -> pool -> conv 3x3 64 (no pool) -> flatten -> dense 64
-> dense 10 logits, Adam, batch 64, 10 epochs, validated once an epoch; writes the per-epoch
train/validation accuracy curves and the 5x5 "true - predicted" test grid of the source.
The source reports curves, not a number. CIFAR-10 needs internet once (`python -m launch.fetch_data
--dataset=cifar10`); `:fashion_mnist` runs the same layers offline on
data/fashion_mnist. Our numbers: see CLAIM below and WORKSPACE.md "Results".
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("cnn", kernel_size=3, features=(32, 64, 64), pool_after=(True, True, False),
                           dense_features=64),
      data=dict(name="tfds", tfds_name="cifar10"),
      train=dict(batch_size=64, num_epochs=10),
      checkpoint=dict(every_steps=2000))
  return sections.with_variant(c, arg, fashion_mnist=sections.on_fashion_mnist, tiny=lambda c: sections.short_run(
      c, num_steps=20, log_every=5, eval_every=10, checkpoint_every=10))
