"""Valid values of config keys, declared next to the keys, checked before anything is built.

A check is a `Check(allowed, test)`: `allowed` is what the error line says is
allowed, `test(value) -> bool`. Config sections (`config_sections.py`), models
(`CONFIG_CHECKS` on the module class), data sources (`sources.SOURCE_CHECKS`) and
workloads (`Workload.config_checks`) each declare theirs; `check_config` runs them
all and raises one `ConfigError` naming the key, the value and what is allowed.
"""
import dataclasses
import math
import numbers
from typing import Any, Callable

from bigmodel_jax.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Check:
  allowed: str
  test: Callable[[Any], bool]

  def __call__(self, key: str, value) -> None:
    try:
      ok = bool(self.test(value))
    except (TypeError, ValueError):
      ok = False
    if not ok:
      raise ConfigError(f"{key}={value!r} is not allowed; expected {self.allowed}")


def _is_int(v) -> bool:
  return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v) -> bool:
  return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(v)


def int_at_least(low: int) -> Check:
  return Check(f"an integer >= {low}", lambda v: _is_int(v) and v >= low)


def int_or_minus_one(low: int = 1) -> Check:
  return Check(f"-1 or an integer >= {low}", lambda v: _is_int(v) and (v == -1 or v >= low))


def real_in(low: float, high: float, *, low_open: bool = False, high_open: bool = False) -> Check:
  brackets = ("(" if low_open else "[") + f"{low}, {high}" + (")" if high_open else "]")
  def test(v):
    return (_is_real(v) and (v > low if low_open else v >= low) and (v < high if high_open else v <= high))
  return Check(f"a number in {brackets}", test)


def one_of(*choices) -> Check:
  return Check(f"one of {list(choices)}", lambda v: v in choices)


def each(check: Check) -> Check:
  """A sequence whose every element passes `check`."""
  return Check(f"a sequence of {check.allowed}",
               lambda v: not isinstance(v, str) and all(check.test(x) for x in v))


POSITIVE_INT = int_at_least(1)
NON_NEGATIVE_INT = int_at_least(0)
POSITIVE = Check("a finite number > 0", lambda v: _is_real(v) and v > 0)
NON_NEGATIVE = Check("a finite number >= 0", lambda v: _is_real(v) and v >= 0)
PROBABILITY = real_in(0.0, 1.0, high_open=True)      # Dropout rates and the like.
FRACTION = real_in(0.0, 1.0)
BOOL = Check("True or False", lambda v: isinstance(v, bool))
STRING = Check("a string", lambda v: isinstance(v, str))


def lookup(config, dotted: str):
  """The value at `a.b.c`, or KeyError if any part is missing."""
  node = config
  for part in dotted.split("."):
    if part not in node:
      raise KeyError(dotted)
    node = node[part]
  return node


def check_keys(config, checks: dict, prefix: str = "") -> None:
  """Runs each `dotted key -> Check` on `config` (keys the config lacks are skipped)."""
  for key, check in checks.items():
    try:
      value = lookup(config, key)
    except KeyError:
      continue
    check(prefix + key, value)


def _check_registry_names(config) -> None:
  from bigmodel_jax import optim, parallel  # Late: they import this module's users.
  from bigmodel_jax.data.sources import SOURCES
  from bigmodel_jax.models import MODELS
  names = {"optimizer.name": optim.OPTIMIZERS, "optimizer.schedule": optim.SCHEDULES,
           "mesh.param_sharding": parallel.PARAM_SHARDINGS, "model.name": MODELS}
  if config.get("workload") == "supervised":
    names["data.name"] = SOURCES
  for key, registry in names.items():
    check_keys(config, {key: one_of(*sorted(registry))})


def check_config(config, workload) -> None:
  """Checks every declared key of `config` (sections, model, data source, workload); ConfigError on the first bad one."""
  from bigmodel_jax import config_sections
  from bigmodel_jax.data.sources import SOURCE_CHECKS
  from bigmodel_jax.models import MODELS
  for section in config_sections.SECTIONS:
    if section in config:
      check_keys(config[section], config_sections.checks(section), prefix=f"{section}.")
  _check_registry_names(config)
  if "model" in config and config.model.get("name") in MODELS:
    check_keys(config.model, getattr(MODELS[config.model.name], "CONFIG_CHECKS", {}), prefix="model.")
  if "data" in config and config.data.get("name") in SOURCE_CHECKS:
    check_keys(config.data, SOURCE_CHECKS[config.data.name], prefix="data.")
  check_keys(config, workload.config_checks)
