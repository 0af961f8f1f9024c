r"""A small pre-activation ResNet (batch norm, dropout) on Fashion-MNIST: the stronger model.

  python -m launch.main --config=configs/resnet_fashion_mnist.py --workdir=runs/resnet

Hardware: one GPU (~0.5 GFLOP per training image: a 2-core CPU needs ~5.4 minutes
an epoch, ~3.6 hours for the 40). Expected: >= 95% test accuracy after 40 epochs,
minutes on a recent GPU; WORKSPACE.md says what has been measured. `:tiny` runs a few steps of a 2-block net.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("resnet", dropout=0.2),
      data=dict(crop_padding=2, horizontal_flip=True),
      optimizer=dict(name="sgd", learning_rate=0.1, schedule="warmup_cosine", warmup_steps=500,
                     nesterov=True, weight_decay=5e-4),
      supervised=dict(label_smoothing=0.1),
      train=dict(num_epochs=40),
      checkpoint=dict(every_steps=2000))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  c.model.update(stage_sizes=(1, 1), widths=(8, 16))
  sections.short_run(c, num_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10)
  c.optimizer.warmup_steps = 5
