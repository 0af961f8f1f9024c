"""XLA flags the launchers set before JAX starts its backends.

On XLA:CPU (jaxlib 0.10) convolutions are routed to the YNNPACK library by
default; for the small NHWC convolutions of our CNNs, and above all their
gradients, XLA's own Eigen kernels are faster: the default CNN's training step
runs at ~1.4k images/s with YNNPACK convolutions and ~1.9k without, on a
2-core x86 CPU (see WORKSPACE.md). Matmuls stay on YNNPACK. The flag is ignored
by GPU and TPU backends. A user's own XLA_FLAGS setting of the same flag wins;
BIGMODEL_XLA_DEFAULTS=0 turns this off.
"""
import os

CPU_FLAGS = ("--xla_cpu_experimental_ynn_fusion_type=individual_dot",)


def set_defaults(environ=os.environ) -> None:
  """Adds CPU_FLAGS to XLA_FLAGS, unless already set there; call before JAX's first use of a device."""
  if environ.get("BIGMODEL_XLA_DEFAULTS", "1") == "0":
    return
  flags = environ.get("XLA_FLAGS", "").split()
  names = {f.split("=")[0] for f in flags}
  flags += [f for f in CPU_FLAGS if f.split("=")[0] not in names]
  environ["XLA_FLAGS"] = " ".join(flags)
