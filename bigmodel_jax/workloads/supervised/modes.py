"""The supervised workload's modes beyond train and eval."""
from bigmodel_jax.config import checks as v
from bigmodel_jax.workloads.base import Mode, ModeFlag
from bigmodel_jax.workloads.supervised import explain, quantize_mode

MODES = {
    "quantize": Mode(quantize_mode.quantize_run, "int8 weights (qwix PTQ, per-channel scales) of the trained "
                     "classifier, evaluated against float and written as a new run workdir", {
                         "output": ModeFlag(str, "workdir of the quantised run (default: <workdir>_int8)",
                                            v.STRING, default=""),
                         "activations": ModeFlag(str, "int8: dense layers' inputs quantised too",
                                                 v.one_of("float", "int8"), default="float")}),
    "explain": Mode(explain.explain_run, "vanilla-gradient, SmoothGrad and integrated-gradients saliency of "
                    "test images (PNG), class-average saliency, and the randomisation and completeness checks", {
                        "num_images": ModeFlag(int, "test images in the grid", v.POSITIVE_INT, default=8),
                        "smoothgrad_samples": ModeFlag(int, "noisy copies per image", v.POSITIVE_INT, default=16),
                        "ig_steps": ModeFlag(int, "integrated-gradients path steps", v.POSITIVE_INT, default=64),
                        "per_class": ModeFlag(int, "test images per class averaged", v.POSITIVE_INT, default=20)}),
}
