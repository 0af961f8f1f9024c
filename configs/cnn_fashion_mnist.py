r"""The default experiment: a CNN classifier on Fashion-MNIST, aimed at 93% in 3 CPU minutes of training.

  python -m launch.main --config=configs/cnn_fashion_mnist.py --workdir=runs/cnn

The source material's conv -> pool -> conv -> pool -> dense -> dense, grown by one
stage: conv 3x3 16 -> pool -> conv 3x3 64 -> pool -> conv 3x3 128 -> pool ->
dense 256 -> dense 10 ('SAME' padding, batch norm after each conv), dropout 0.2,
horizontal flips, AdamW with a cosine schedule for 12 epochs, and the test images
scored together with their mirrors (flip test-time augmentation). Hardware: 2-core
CPU, no accelerator. Time: 12 epochs are 10308 steps of 64; the bare step ran at ~4.0k
images/s with both cores free and ~2.3k with one (2026-12-03), so training takes ~3 to
~5 minutes, more on a loaded machine. Expected: see CLAIM and
WORKSPACE.md (16 epochs with dropout 0.3 gave 93.34% in 448 s, 2026-11-22). The
source's own layout is `configs/cnn_fashion_mnist_fast.py`. `:tiny` runs 20 steps.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment

# Seeds 0, 1, 2: 93.30%, 93.56%, 93.36% (mean 93.41%, spread 0.26 points). Train time 221 s
# (257 s wall) for seed 2 with nothing else training (load ~2-3); 300 s (load ~8) and 722 s
# (load 7-10) for seeds 1 and 0. The band holds all three seeds; a CPU rerun of one seed
# gives the same number.
CLAIM = dict(metric="test.accuracy", value=0.9341, tolerance=0.003, higher_is_better=True,
             hardware="2-core CPU", train_minutes=3.7, measured="2026-12-03", seeds=3)


def get_config(arg=None):
  c = experiment(
      "supervised",
      model=sections.model("cnn", features=(16, 64, 128), kernel_size=3, padding="SAME",
                           dense_features=256, dropout=0.2, batch_norm=True),
      data=dict(horizontal_flip=True),
      optimizer=dict(name="adamw", learning_rate=2e-3, schedule="warmup_cosine", warmup_steps=300,
                     weight_decay=1e-4),
      supervised=dict(flip_tta=True),
      train=dict(batch_size=64, num_epochs=12))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  sections.short_run(c, num_steps=20, batch_size=32, log_every=5, eval_every=10, checkpoint_every=10)
  c.optimizer.warmup_steps = 5
