r"""`lm_shakespeare_char` with int8 weights (qwix PTQ, per-channel scales): the config of the run that
`--mode=quantize` writes from a trained character LM.

  python -m launch.main --config=configs/lm_shakespeare_char.py --workdir=runs/lm_char_1k \
      --config.train.num_steps=1000
  python -m launch.main --config=configs/lm_shakespeare_char.py --workdir=runs/lm_char_1k \
      --mode=quantize --output=runs/lm_char_1k_int8
  python -m launch.main --config=configs/lm_shakespeare_char_int8.py --workdir=runs/lm_char_1k_int8 --mode=eval
  python -m launch.main --config=configs/lm_shakespeare_char_int8.py --workdir=runs/lm_char_1k_int8 \
      --mode=sample --prompt="ROMEO:"

The attention and MLP kernels are int8; the tied token embedding (a gather, and the output
head) stays float. Evaluating, sampling and exporting need no optimizer, so only the model,
the data and the layout are declared. Measured 2026-12-03 on a 2-core CPU from a 1000-step run:
validation loss 1.70695 against 1.70669 in float, parameters 3.67x smaller. Results in WORKSPACE.md
("Compress, explain, protect", the language model). `:tiny` is the tests' 1-layer model.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.lm import workload as lm


def get_config(arg=None):
  c = experiment(
      "lm",
      model=sections.model("transformer", max_len=128, positions="rotary"),   # lm_shakespeare_char's model.
      quant=dict(weights="int8"),
      train=dict(num_steps=1000),      # The run it is quantised from (checked, not used: nothing trains here).
      eval=dict(batch_size=100),
      mesh=dict(param_sharding="logical", rules=(("batch", "data"),)))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  lm.tiny(c)
  c.model.update(num_layers=1, num_heads=2, embed_dim=32, max_len=32, positions="learned")
