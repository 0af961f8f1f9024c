"""Workload registry: `config.workload` picks one."""
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads.base import Workload
from bigmodel_jax.workloads.generative import gan, vae
from bigmodel_jax.workloads.kmeans import workload as kmeans
from bigmodel_jax.workloads.lm import workload as lm
from bigmodel_jax.workloads.rl import workload as rl
from bigmodel_jax.workloads.supervised import workload as supervised

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
