"""What runs write, read for comparison: the same results with what measures time or the machine left out."""

# Keys that measure time or the machine (or name where files went), not behaviour.
TIMING_KEYS = ("_per_sec", "mfu", "wall_time_s", "train_time_s", "compile_time_s", "fit_seconds",
               "compile_seconds", "date", "config_source", "hardware", "output", "png", "npy")


def is_timing(key: str) -> bool:
  return any(key.endswith(t) or key == t for t in TIMING_KEYS)


def strip_timings(value):
  """`value` (a summary, a metrics row) without its timing keys, at every level."""
  if isinstance(value, dict):
    return {k: strip_timings(v) for k, v in value.items() if not is_timing(k)}
  if isinstance(value, list):
    return [strip_timings(v) for v in value]
  return value
