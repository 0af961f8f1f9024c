r"""`cnn_fashion_mnist_fast` with int8 weights (qwix PTQ, per-channel scales): the quantised run's config.

  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fast
  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fast \
      --mode=quantize --output=runs/cnn_fast_int8
  python -m launch.main --config=configs/cnn_fashion_mnist_fast_int8.py --workdir=runs/cnn_fast_int8 --mode=eval

Convolutions run w8a8 (qwix's only int8 convolution), dense layers w8 with float inputs.
Hardware: 2-core CPU. Results in WORKSPACE.md ("Compress, explain, protect").
`:qat` trains the same CNN with fake-quantised weights instead; `:tiny` runs 20 steps.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("cnn", batch_norm=True),      # cnn_fashion_mnist_fast's model and recipe.
      optimizer=dict(learning_rate=4e-3, schedule="onecycle", warmup_steps=400),
      quant=dict(weights="int8"),
      train=dict(batch_size=64, num_epochs=3, eval_every_steps=215))
  return sections.with_variant(c, arg, tiny=tiny, qat=qat)


def qat(c):
  c.quant.qat = True


def tiny(c):
  sections.short_run(c, num_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10)
  c.optimizer.warmup_steps = 5
