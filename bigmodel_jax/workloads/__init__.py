"""Workload registry: `config.workload` picks one."""
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads import gan, kmeans, lm, rl, supervised, vae
from bigmodel_jax.workloads.base import Workload

WORKLOADS = {
    "gan": gan.WORKLOAD,
    "kmeans": kmeans.WORKLOAD,
    "lm": lm.WORKLOAD,
    "rl": rl.WORKLOAD,
    "supervised": supervised.WORKLOAD,
    "vae": vae.WORKLOAD,
}


def get_workload(name: str) -> Workload:
  if name not in WORKLOADS:
    raise ConfigError(f"workload={name!r}; choose one of {sorted(WORKLOADS)}")
  return WORKLOADS[name]
