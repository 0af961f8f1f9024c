"""The supervised workload's modes beyond train and eval."""
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.workloads.base import Mode, ModeFlag
from bigmodel_jax.workloads.quantize_mode import Quantizable, quantize_mode
from bigmodel_jax.workloads.supervised import explain


def init_inputs(spec):
  return (jnp.zeros((1,) + tuple(spec.input_shape), jnp.float32),), {"train": False}


def with_int8_weights(fresh, trained, qparams):
  """Batch-norm statistics kept float from the trained run; the EMA slot (if any) holds the int8 weights
  that were quantised from it."""
  return fresh.replace(step=trained.step, params=qparams, model_state=trained.model_state,
                       ema_params=qparams if fresh.ema_params is not None else None)


QUANTIZABLE = Quantizable(model=explain.classifier_model, init_inputs=init_inputs,
                          float_weights=lambda state: state.eval_params(), with_weights=with_int8_weights)

MODES = {
    "quantize": quantize_mode(QUANTIZABLE),
    "explain": Mode(explain.explain_run, "vanilla-gradient, SmoothGrad and integrated-gradients saliency of "
                    "test images (PNG), class-average saliency, and the randomisation and completeness checks", {
                        "num_images": ModeFlag(int, "test images in the grid", v.POSITIVE_INT, default=8),
                        "smoothgrad_samples": ModeFlag(int, "noisy copies per image", v.POSITIVE_INT, default=16),
                        "ig_steps": ModeFlag(int, "integrated-gradients path steps", v.POSITIVE_INT, default=64),
                        "per_class": ModeFlag(int, "test images per class averaged", v.POSITIVE_INT, default=20)}),
}
