"""Checks a whole config, and a mode's flags, against their declarations before anything is built.

Every key must be declared (top-level keys, the workload's sections, the model
class's fields) and pass its check; a data source may need more keys
(`sources.SOURCE_CHECKS`); a workload may tighten a key (`config_checks`) and
refuses keys it does not read when they are set away from their default
(`unused_keys`). The first problem is one `ConfigError` naming the key, the value
and what is allowed.
"""
from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.data.sources import SOURCE_CHECKS
from bigmodel_jax.errors import ConfigError


def _check_declared(config, name: str, declaration: dict) -> None:
  if name not in config:
    raise ConfigError(f"the config has no section {name!r}; its workload {config.workload!r} needs it")
  node = config[name]
  unknown = sorted(set(node) - set(declaration))
  if unknown:
    raise ConfigError(f"{name}.{unknown[0]} is not a key of section {name!r}; it has {sorted(declaration)}")
  v.check_keys(node, sections.checks(declaration), prefix=f"{name}.")


def _check_top_level(config, workload) -> None:
  allowed = set(sections.TOP) | set(workload.sections) | ({"model"} if "model" in config else set())
  unknown = sorted(set(config) - allowed)
  if unknown:
    raise ConfigError(f"{unknown[0]!r} is not a section of workload {config.workload!r}; "
                      f"it has {sorted(allowed)}")
  v.check_keys(config, sections.checks(sections.TOP))
  if config.get("init_from") and not workload.transfer_fields:
    raise ConfigError(f"init_from={config.init_from!r}: workload {config.workload!r} cannot start "
                      f"from another run's arrays")


def _check_unused(config, workload) -> None:
  for dotted in workload.unused_keys:
    section, key = dotted.split(".", 1)
    default = (workload.sections.get(section) or {}).get(key, (None,))[0]
    value = v.lookup(config, dotted)
    if value != default:
      raise ConfigError(f"{dotted}={value!r} has no effect in workload {config.workload!r}; "
                        f"leave it at {default!r}")


def _run_workload_checks(config, workload) -> None:
  for key, check in workload.config_checks.items():
    try:
      value = v.lookup(config, key)
    except KeyError:
      continue
    check(key, value)


def check_config(config, workload) -> None:
  """Checks every key of `config`; ConfigError on the first bad one."""
  _check_top_level(config, workload)
  for name, declaration in workload.sections.items():
    _check_declared(config, name, declaration)
  if "model" in config:
    _check_declared(config, "model", sections.model_declaration(config.model.get("name", "")))
  if "data" in config and config.data.get("name") in SOURCE_CHECKS:
    v.check_keys(config.data, SOURCE_CHECKS[config.data.name], prefix="data.")
  _run_workload_checks(config, workload)
  _check_unused(config, workload)


def check_mode_options(config, mode_name: str, mode, given: dict) -> dict:
  """Every flag of `mode` with its value (given, or its default), each checked; a flag the mode
  does not take is an error naming the flags it does take."""
  declared = mode.flags if mode is not None else {}
  unknown = sorted(set(given) - set(declared))
  if unknown:
    takes = ", ".join(f"--{f}" for f in sorted(declared)) or "no flags"
    raise ConfigError(f"--{unknown[0]} is not a flag of --mode={mode_name} of workload "
                      f"{config.workload!r}; it takes {takes}")
  options = {}
  for name, flag in declared.items():
    value = given[name] if name in given else (
        v.lookup(config, flag.default_key) if flag.default_key else flag.default)
    if value is not None:
      flag.check(f"--{name}", value)
    options[name] = value
  return options
