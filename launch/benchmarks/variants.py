"""Variants of a config for `launch.benchmark step --variant`: parsing, overrides, the memory of a
compiled step and the side-by-side table. It defines no flags, so tests and other tools can import
it beside the launcher.
"""
import ast
import copy
import re

# The options of the supervised workload, each as the overrides that turn it on. dp needs a model
# without batch norm (it mixes examples): measure it on such a config (e.g. cnn_fashion_mnist_dp with
# --variant=plain:dp.clip_norm=0.0 --variant=dp).
VARIANT_PRESETS = {
    "plain": "",
    "qat": "quant.weights=int8,quant.qat=True",
    "prune": "prune.sparsity=0.8",
    "dp": "dp.clip_norm=1.0",
}
MEMORY_FIELDS = ("argument_size_in_bytes", "output_size_in_bytes", "temp_size_in_bytes")


def parse_variant(text: str) -> tuple[str, dict]:
  """'name:key=value,key=value' (or a preset's name) -> (name, {dotted key: value})."""
  name, _, spec = text.partition(":")
  if not name:
    raise ValueError(f"--variant={text!r} has no name; write name:key=value,... or one of {sorted(VARIANT_PRESETS)}")
  if not spec:
    if name not in VARIANT_PRESETS:
      raise ValueError(f"--variant={text!r}: no preset {name!r}; presets are {sorted(VARIANT_PRESETS)}, "
                       "or give its overrides as name:key=value,...")
    spec = VARIANT_PRESETS[name]
  overrides = {}
  for item in filter(None, re.split(r",(?=[\w.]+=)", spec)):   # Commas inside a tuple value stay.
    key, eq, value = item.partition("=")
    if not eq or not key:
      raise ValueError(f"--variant={text!r}: {item!r} is not key=value")
    overrides[key.strip()] = _literal(value.strip())
  return name, overrides


def _literal(value: str):
  """A Python literal (number, bool, tuple) where the text is one, else the text as a string."""
  try:
    return ast.literal_eval(value)
  except (ValueError, SyntaxError):
    return value


def with_overrides(config, overrides: dict, what: str):
  """A copy of `config` with each dotted key set; a key the config lacks or a value of the wrong type is a ValueError."""
  changed = copy.deepcopy(config)
  for key, value in overrides.items():
    *parents, leaf = key.split(".")
    node = changed
    for part in parents:
      node = node.get(part) if hasattr(node, "get") else None
      if node is None:
        break
    if node is None or not hasattr(node, "keys") or leaf not in node:
      raise ValueError(f"{what}: the config has no key {key!r}")
    if isinstance(node[leaf], float) and isinstance(value, int) and not isinstance(value, bool):
      value = float(value)
    try:
      setattr(node, leaf, value)
    except TypeError as e:
      raise ValueError(f"{what}: {key}={value!r}: {e}") from None
  return changed


def memory_bytes(compiled) -> dict:
  """XLA's byte counts of a compiled function ({} where the backend gives none)."""
  try:
    analysis = compiled.memory_analysis()
  except Exception:   # Backends without the analysis raise rather than return None.
    return {}
  if analysis is None:
    return {}
  return {f: int(getattr(analysis, f)) for f in MEMORY_FIELDS if hasattr(analysis, f)}


def mib(row: dict, field: str) -> str:
  return f"{row[field] / 2**20:.2f}" if field in row else "n/a"


def variant_table(rows: list) -> list[str]:
  """Markdown lines: each variant's ms/step, ratio to the first, units/s and compiled memory (MiB)."""
  base = rows[0]
  lines = ["| variant | overrides | ms/step | x first | units/s | temp MiB | x first | argument MiB | output MiB |",
           "|---|---|---|---|---|---|---|---|---|"]
  for r in rows:
    temp_ratio = (f"{r['temp_size_in_bytes'] / base['temp_size_in_bytes']:.2f}"
                  if base.get("temp_size_in_bytes") and "temp_size_in_bytes" in r else "n/a")
    overrides = ", ".join(f"{k}={v}" for k, v in r["overrides"].items()) or "-"
    lines.append(f"| {r['variant']} | {overrides} | {r['ms_per_step']:.2f} | {r['ms_per_step'] / base['ms_per_step']:.2f} | "
                 f"{r['units_per_s']:.0f} {r['unit']} | {mib(r, 'temp_size_in_bytes')} | {temp_ratio} | "
                 f"{mib(r, 'argument_size_in_bytes')} | {mib(r, 'output_size_in_bytes')} |")
  return lines
