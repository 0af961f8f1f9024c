r"""Quantisation-aware fine-tuning of the trained `cnn_fashion_mnist_fast`, then int8 (qwix PTQ) of the result.

  python -m launch.main --config=configs/cnn_fashion_mnist_fast.py --workdir=runs/cnn_fast
  python -m launch.main --config=configs/cnn_fashion_mnist_fast_qat.py --workdir=runs/cnn_fast_qat
  python -m launch.main --config=configs/cnn_fashion_mnist_fast_qat.py --workdir=runs/cnn_fast_qat \
      --mode=quantize --output=runs/cnn_fast_qat_int8            # --activations=int8 for w8a8

One epoch from the float run's weights with fake-quantised int8 weights (and the
convolutions' int8 inputs) in the forward pass and straight-through gradients, so the
weights settle where rounding them costs little; `--mode=quantize` then stores them as
int8. Hardware: 2-core CPU. Time: ~1.5 minutes of training (83 s at load 3.5). Expected:
91.49% test accuracy, the same after `--mode=quantize` with int8 weights or w8a8 (measured
2026-12-03; plain PTQ after the same epoch without QAT: 91.45%; WORKSPACE.md, "Compress,
explain, protect"). `:tiny` runs 20 steps from scratch.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment

# Measured after training runs/cnn_fast (91.24%): the first command above, 859 steps, 83 s of training,
# 2-core CPU, load 3.4 -> 3.6, 2026-12-03 (the QAT model; its int8 PTQ gives the same 91.49%).
CLAIM = dict(metric="test.accuracy", value=0.9149, tolerance=0.003, higher_is_better=True,
             hardware="2-core CPU", train_minutes=1.39, measured="2026-12-03")


def get_config(arg=None):
  c = experiment(
      "supervised", init_from="runs/cnn_fast",
      model=sections.model("cnn", batch_norm=True),      # cnn_fashion_mnist_fast's model.
      optimizer=dict(learning_rate=1e-3, schedule="warmup_cosine", warmup_steps=50),
      quant=dict(weights="int8", qat=True),
      train=dict(batch_size=64, num_epochs=1, eval_every_steps=215))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  c.init_from = ""
  sections.short_run(c, num_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10)
  c.optimizer.warmup_steps = 5
