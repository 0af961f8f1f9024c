r"""Time-to-accuracy recipe: a source-style CNN to 91% Fashion-MNIST test accuracy, fast.

  python -m launch.benchmark time_to_accuracy          # against the source's Keras CNN
  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fast

The source's conv 5x5 32 -> pool -> conv 5x5 64 -> pool -> dense 128 -> dense 10
('VALID', the fastest layout on CPU) with batch norm. Hardware: 2-core CPU. Time:
~1.5 minutes. Expected: 91% test accuracy after ~2.5 epochs, ~61 s of training
(measured 2026-11-22; WORKSPACE.md). What makes it fast: batch norm, a one-cycle
schedule with a high peak learning rate, no regularisation, evaluation every
quarter epoch.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("cnn", batch_norm=True),
      optimizer=dict(learning_rate=4e-3, schedule="onecycle", warmup_steps=400),
      train=dict(batch_size=64, num_epochs=3, eval_every_steps=215))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  sections.short_run(c, num_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10)
  c.optimizer.warmup_steps = 5


# Measured: `python -m launch.reproduce --only=cnn_fashion_mnist_fast --seeds=3`: 91.24 / 91.02 / 91.29% test
# accuracy (mean 91.18%, min-max 0.27 points), 49-55 s of training, 63-75 s wall, 2-core CPU, load 4.0-5.1, 2026-12-03.
CLAIM = dict(metric="test.accuracy", value=0.9118, tolerance=0.005, higher_is_better=True,
             hardware="2-core CPU", train_minutes=0.88, measured="2026-12-03", seeds=3)
