"""Workload registry: `config.workload` picks one."""
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads import lm, supervised
from bigmodel_jax.workloads.base import Workload

WORKLOADS = {
    "supervised": supervised.WORKLOAD,
    "lm": lm.WORKLOAD,
}


def get_workload(name: str) -> Workload:
  if name not in WORKLOADS:
    raise ConfigError(f"workload={name!r}; choose one of {sorted(WORKLOADS)}")
  return WORKLOADS[name]
