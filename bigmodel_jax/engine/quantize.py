"""int8 quantisation through qwix: post-training (PTQ) and quantisation-aware training (QAT).

qwix intercepts the Linen model's dot_general / conv calls, so any model of the
registry is quantised without changes to it. Weights get per-channel absmax scales.
qwix quantises a convolution only with int8 activations too, so convolutions are
always w8a8; dense layers follow `quant.activations`.
"""
import jax
import jax.numpy as jnp
import numpy as np
import qwix

from bigmodel_jax.config import checks as v

QUANT_SECTION = dict(
    weights=("float", v.one_of("float", "int8")),       # int8: the model runs with int8 per-channel weights.
    activations=("float", v.one_of("float", "int8")),   # int8: dense layers' inputs too (convs always are).
    qat=(False, v.BOOL),                                # Train with fake-quantised weights (needs weights=int8).
)


# Modules left in float. A language model's token embedding is both a gather (no matmul for qwix
# to intercept) and, tied, the output head's matmul; one array cannot be int8 for one and float
# for the other, so the tied embedding and the head stay float.
FLOAT_MODULES = ".*token_embedding.*"


def rules(cfg) -> list:
  """qwix rules, first match wins: FLOAT_MODULES untouched, convolutions w8a8 (its only int8
  conv), everything else as configured."""
  acts = jnp.int8 if cfg.activations == "int8" else None
  return [qwix.QuantizationRule(module_path=FLOAT_MODULES),
          qwix.QuantizationRule(op_names=("conv_general_dilated",), weight_qtype=jnp.int8, act_qtype=jnp.int8),
          qwix.QuantizationRule(module_path=".*", weight_qtype=jnp.int8, act_qtype=acts)]


def is_quantized(cfg) -> bool:
  """None (a config written before the section existed) is float."""
  return cfg is not None and cfg.weights == "int8"


def holds_int8_params(cfg) -> bool:
  """PTQ runs store int8 weights; QAT runs keep float weights and quantise on the fly."""
  return is_quantized(cfg) and not cfg.qat


def wrap_model(model, cfg):
  """The model as the config runs it: float, fake-quantised (QAT) or with int8 weights (PTQ)."""
  if not is_quantized(cfg):
    return model
  provider = qwix.QtProvider(rules(cfg)) if cfg.qat else qwix.PtqProvider(rules(cfg))
  return qwix.quantize_model(model, provider)


def quantize_params(float_params, quantized_model, *init_args, **init_kwargs):
  """Float params -> the int8 tree the PTQ model reads (scales from the weights themselves)."""
  abstract = jax.eval_shape(lambda: quantized_model.init(jax.random.PRNGKey(0), *init_args, **init_kwargs))
  return qwix.quantize_params(float_params, abstract["params"])


def tree_bytes(tree) -> int:
  return int(sum(np.asarray(x).nbytes for x in jax.tree.leaves(tree)))


def with_weights_as_arguments(apply_fn, variables):
  """fn(*inputs) = apply_fn(variables, *inputs), the variables entering an inner jit as arguments.

  Closed over directly, int8 weights would be dequantised while tracing (an op on constants
  alone runs eagerly) and a traced or exported program would hold them as float constants;
  as arguments of the inner jit they stay int8 in it.
  """
  inner = jax.jit(apply_fn)
  return lambda *inputs: inner(variables, *inputs)
