"""Flag parsing shared by the launcher and the benchmarks: a bad --config is one `error:` line.

A missing file, an unknown variant, a config file that raises, an override of a key
the config does not declare or an override of the wrong type each end the process
with exit status 1 and one line on stderr, never a traceback (BIGMODEL_TRACEBACK=1
shows it).
"""
import os
import re
import sys
import traceback

from absl import flags


def fail(message: str) -> None:
  print(f"error: {message}", file=sys.stderr)
  sys.exit(1)


def innermost(e: BaseException) -> BaseException:
  """The exception at the bottom of a chain: ml_collections wraps a config file's own error."""
  while e.__cause__ is not None or (e.args and isinstance(e.args[0], BaseException)):
    e = e.__cause__ if e.__cause__ is not None else e.args[0]
  return e


def parse_or_fail(argv):
  """absl's flag parsing of argv (defined flags, `--config=path[:variant]`, `--config.a.b=value`)."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    if str(e).startswith("flag --config=") and "Traceback" in str(e):   # The config file raised.
      fail(describe_config_failure(argv, str(e)))
    fail(str(e).splitlines()[0])
  except (AttributeError, KeyError) as e:  # ml_collections: an override of a key that does not exist.
    detail = ". ".join(line.strip("'\"") for line in str(innermost(e)).splitlines())
    fail(f"a --config override names a key the config file does not declare: {detail}")
  except Exception as e:  # The config file itself failed in some other way.
    if os.environ.get("BIGMODEL_TRACEBACK") == "1":
      raise
    fail(describe_config_failure(argv, "".join(traceback.format_exception(innermost(e)))))


def loaded_config(holder, argv):
  """The value of a config flag; ml_collections defers a missing or failing file to the first use."""
  config = holder.value
  try:
    config.keys()
  except Exception as e:
    fail(describe_config_failure(argv, "".join(traceback.format_exception(innermost(e)))))
  return config


def describe_config_failure(argv, report: str) -> str:
  """One line from a config file's failure report: which file, which line, which error."""
  given = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), "?")
  path = given.split(":", 1)[0]
  if not os.path.exists(path):
    return f"--config={given}: no such file {path!r}"
  lines = [line.strip() for line in report.splitlines() if line.strip()]
  where = ""
  for line in lines:   # The last frame in the config file, or a SyntaxError's own line.
    if line.startswith("File ") and os.path.basename(path) in line and ", line " in line:
      where = f" (line {line.split(', line ')[1].split(',')[0]})"
  syntax = re.search(r'File ".*", line (\d+)', report) if "SyntaxError" in report else None
  if syntax and not where:
    where = f" (line {syntax.group(1)})"
  last = next((line for line in reversed(lines) if re.match(r"^[A-Za-z_.]*(Error|Exception)\b", line)),
              lines[-1] if lines else "")
  return f"--config={given}: the config file failed{where}: {last}"
