"""Valid values of config keys and mode flags: `Check` objects, declared next to the keys they check.

A check is a `Check(allowed, test)`: `allowed` is what the error line says is
allowed, `test(value) -> bool`. Section declarations (`config/sections.py`, a
workload's `sections`), models (`CONFIG_CHECKS` on the module class), data sources
(`sources.SOURCE_CHECKS`) and mode flags declare theirs; `config/validate.py` runs
them. This module imports nothing of the project but its errors, so anything may use it.
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


def int_in(low: int, high: int) -> Check:
  return Check(f"an integer in [{low}, {high}]", lambda v: _is_int(v) and low <= v <= high)


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
