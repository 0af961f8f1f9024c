r"""Records every config's `:tiny` run (and its modes), or compares two such records.

  python -m launch.compare_tiny_runs record --out=/tmp/before
  ... change the code ...
  python -m launch.compare_tiny_runs record --out=/tmp/after
  python -m launch.compare_tiny_runs compare /tmp/before /tmp/after

A refactor that must not change behaviour records before and after and compares:
every row of metrics.jsonl and every value of each summary must be equal bit for
bit, timings aside. Configs whose data needs the internet (TFDS) are recorded
with their one error line, which is compared too. `--only=a,b` limits a record to
some configs.
"""
import glob
import json
import math
import os
import subprocess
import sys

from absl import app, flags

from launch.run_records import strip_timings

_OUT = flags.DEFINE_string("out", None, "record: folder for the runs.")
_ONLY = flags.DEFINE_list("only", [], "record: config names (default every configs/*.py).")

# Modes run on each workload's finished tiny run, besides `eval`.
MODES = {"lm": [("sample", ["--prompt=ab", "--num_tokens=6"])],
         "gan": [("sample", ["--num_samples=4"])], "vae": [("sample", ["--num_samples=4"])],
         "kmeans": [("predict", []), ("transform", [])]}
# Configs that read another tiny run: name -> (override key, run it reads).
READS_RUN = {"kmeans_cnn_embeddings": ("data.path", "cnn_digits")}


def _launch(args: list, log_path: str) -> int:
  env = {**os.environ, "JAX_PLATFORMS": "cpu"}
  with open(log_path, "w") as log:
    return subprocess.run([sys.executable, "-m", "launch.main", *args], stdout=log, stderr=subprocess.STDOUT,
                          env=env, check=False).returncode


def _workload(name: str) -> str:
  with open(os.path.join("configs", f"{name}.py")) as f:
    text = f.read()
  return next((w for w in ("supervised", "gan", "vae", "lm", "rl", "kmeans") if f'"{w}"' in text), "")


def record(out: str, names: list) -> None:
  order = sorted(names, key=lambda n: n in READS_RUN)   # Runs that others read come first.
  for name in order:
    workdir = os.path.join(out, name)
    args = [f"--config=configs/{name}.py:tiny", f"--workdir={workdir}"]
    if name in READS_RUN:
      key, source = READS_RUN[name]
      args.append(f"--config.{key}={os.path.join(out, source)}")
    os.makedirs(workdir, exist_ok=True)
    status = {"train": _launch(args, os.path.join(out, f"{name}.train.log"))}
    if status["train"] == 0:
      for mode, extra in [("eval", [])] + MODES.get(_workload(name), []):
        status[mode] = _launch(args + [f"--mode={mode}", *extra], os.path.join(out, f"{name}.{mode}.log"))
    with open(os.path.join(out, f"{name}.status.json"), "w") as f:
      json.dump(status, f)
    print(f"{name}: {status}", flush=True)


def _same(a, b) -> bool:
  if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
    return True
  if isinstance(a, dict) and isinstance(b, dict):
    return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
  if isinstance(a, list) and isinstance(b, list):
    return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
  return a == b


def _differences(a, b, where: str = "") -> list:
  if isinstance(a, dict) and isinstance(b, dict):
    diffs = [f"{where}/{k}: only in {'before' if k in a else 'after'}" for k in sorted(a.keys() ^ b.keys())]
    return diffs + [d for k in sorted(a.keys() & b.keys()) for d in _differences(a[k], b[k], f"{where}/{k}")]
  if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
    return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{where}[{i}]")]
  return [] if _same(a, b) else [f"{where}: {a!r} != {b!r}"[:300]]


def _read(path: str):
  if not os.path.exists(path):
    return None
  with open(path) as f:
    if path.endswith(".jsonl"):
      return [strip_timings(json.loads(line)) for line in f if line.strip()]
    return strip_timings(json.load(f))


def _last_error_line(path: str) -> str:
  with open(path) as f:
    lines = [line.strip() for line in f if line.startswith("error:")]
  return lines[-1] if lines else ""


def compare(before: str, after: str) -> int:
  """Prints every difference; returns how many runs differ. The `config` entry is compared
  apart (a refactor may rename keys), as a note."""
  names = sorted(os.path.basename(p)[:-len(".status.json")] for p in glob.glob(os.path.join(before, "*.status.json")))
  differing = 0
  for name in names:
    diffs = _differences(_read(os.path.join(before, f"{name}.status.json")),
                         _read(os.path.join(after, f"{name}.status.json")), "status")
    for path in sorted(glob.glob(os.path.join(before, name, "*.json*"))):
      file = os.path.basename(path)
      a, b = _read(path), _read(os.path.join(after, name, file))
      config_note = []
      if isinstance(a, dict) and isinstance(b, dict):
        config_note = _differences(a.pop("config", None), b.pop("config", None), f"{file}/config")
      diffs += _differences(a, b, file)
      for note in config_note:
        print(f"  note {name}: {note}")
    train_log = os.path.join(before, f"{name}.train.log")
    if _last_error_line(train_log) != _last_error_line(os.path.join(after, f"{name}.train.log")):
      diffs.append("the train error line differs")
    print(f"{name}: {'same' if not diffs else f'{len(diffs)} difference(s)'}")
    for d in diffs[:20]:
      print(f"  {d}")
    differing += bool(diffs)
  print(f"{len(names) - differing} of {len(names)} configs give the same results")
  return differing


def main(argv):
  if len(argv) < 2 or argv[1] not in ("record", "compare"):
    raise app.UsageError("record --out=DIR [--only=...] | compare BEFORE AFTER")
  if argv[1] == "record":
    if not _OUT.value:
      raise app.UsageError("record needs --out")
    names = _ONLY.value or sorted(os.path.basename(p)[:-3] for p in glob.glob("configs/*.py"))
    record(_OUT.value, names)
    return 0
  if len(argv) != 4:
    raise app.UsageError("compare BEFORE AFTER")
  return 1 if compare(argv[2], argv[3]) else 0


if __name__ == "__main__":
  app.run(main)
