r"""Reruns the documented result (the CLAIM) of each config and regenerates the results tables.

  python -m launch.reproduce                                    # every config with a CLAIM
  python -m launch.reproduce --only=mlp_xor,ppo_cartpole --seeds=3
  python -m launch.reproduce --check --only=mlp_xor,mlp_regression     # exit 1 outside a band
  python -m launch.reproduce --norun                           # tables only, from what is there

A config's CLAIM (a module-level dict beside `get_config`) names the metric (a dotted path
into summary.json), the measured value, the band a rerun must fall in, the hardware, the
training minutes and the date; optionally `variant` (the `:variant` the claim was measured
with), `seeds` (how many it is over) and `table` (which results table shows it; default: the
workload). Each seed runs `python -m launch.main` into --runs/<config>/seed<N> (the workdir
is replaced); its summary goes to --results/<config>/seed<N>.json. Then every table between
`<!-- reproduce:<table>:begin -->` and `<!-- reproduce:<table>:end -->` in --docs is rewritten
from all the summaries under --results, and the benchmark records under --results/benchmarks
(`python -m launch.benchmark <name> --out=results/benchmarks/<name>.json`).
"""
import datetime
import glob
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

from absl import app, flags

CLAIM_KEYS = ("metric", "value", "tolerance", "higher_is_better", "hardware", "train_minutes", "measured")
TITLES = {"supervised": "Supervised learning", "lm": "Language models", "rl": "Reinforcement learning",
          "kmeans": "K-Means", "generative": "Generative models", "benchmarks": "Benchmarks"}
TABLE_OF_WORKLOAD = {"supervised": "supervised", "lm": "lm", "rl": "rl",
                     "kmeans": "kmeans", "gan": "generative", "vae": "generative"}


# ---- claims ------------------------------------------------------------------------------------

def _load_module(path: str):
  spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


def load_claims(folder: str) -> dict:
  """name -> the config's CLAIM (checked for the shared keys) plus its `workload`."""
  claims = {}
  for path in sorted(glob.glob(os.path.join(folder, "*.py"))):
    module = _load_module(path)
    if not hasattr(module, "CLAIM"):
      continue
    name = os.path.basename(path)[:-3]
    missing = [k for k in CLAIM_KEYS if k not in module.CLAIM]
    if missing:
      raise SystemExit(f"error: {path} CLAIM lacks {missing}; a claim has {list(CLAIM_KEYS)}")
    claim = dict(module.CLAIM)
    claim["workload"] = module.get_config(claim.get("variant")).workload
    claims[name] = claim
  return claims


def config_arg(folder: str, name: str, claim: dict) -> str:
  variant = claim.get("variant")
  return f"{folder}/{name}.py" + (f":{variant}" if variant else "")


def select(claims: dict, only: list) -> dict:
  unknown = sorted(set(only) - set(claims))
  if unknown:
    raise SystemExit(f"error: --only={','.join(only)}: {unknown} have no CLAIM; configs with one: {sorted(claims)}")
  return {n: c for n, c in claims.items() if not only or n in only}


# ---- runs and their summaries ------------------------------------------------------------------

def launch_command(folder: str, name: str, claim: dict, seed: int, workdir: str) -> list:
  return ["python", "-m", "launch.main", f"--config={config_arg(folder, name, claim)}",
          f"--workdir={workdir}", f"--config.seed={seed}", "--config.train.progress_bar=false"]


def run_seed(folder: str, name: str, claim: dict, seed: int, runs: str) -> str:
  """Trains one seed from scratch into its workdir; a failed run stops everything, with its error."""
  workdir = os.path.join(runs, name, f"seed{seed}")
  shutil.rmtree(workdir, ignore_errors=True)   # A rerun, never a resume of an older run.
  command = launch_command(folder, name, claim, seed, workdir)
  print(f"{name} seed {seed}: {' '.join(command)} (load {os.getloadavg()[0]:.1f})", flush=True)
  result = subprocess.run([sys.executable] + command[1:], capture_output=True, text=True)
  if result.returncode != 0:
    last = (result.stderr.strip().splitlines() or ["no output"])[-1]
    raise SystemExit(f"error: {name} seed {seed} failed (exit {result.returncode}): {last}")
  return workdir


def metric_value(summary: dict, dotted: str) -> float:
  node = summary
  for key in dotted.split("."):
    node = node[key]
  return float(node)


def collect(folder: str, name: str, claim: dict, seed: int, runs: str, results: str) -> dict:
  """The few numbers the tables need from a finished workdir's summary.json, written to --results."""
  workdir = os.path.join(runs, name, f"seed{seed}")
  with open(os.path.join(workdir, "summary.json")) as f:
    summary = json.load(f)
  record = {"config": name, "seed": seed, "metric": claim["metric"],
            "value": metric_value(summary, claim["metric"]),
            "train_time_s": summary.get("train_time_s"), "wall_time_s": summary.get("wall_time_s"),
            "hardware": summary.get("hardware") or f"{summary.get('devices')}x {summary.get('device_kind')}",
            "date": summary.get("date") or datetime.date.today().isoformat(),
            "load_after": round(os.getloadavg()[0], 1),
            "command": " ".join(launch_command(folder, name, claim, seed, workdir))}
  os.makedirs(os.path.join(results, name), exist_ok=True)
  with open(os.path.join(results, name, f"seed{seed}.json"), "w") as f:
    json.dump(record, f, indent=2)
    f.write("\n")
  return record


def load_results(results: str, name: str) -> list:
  records = []
  for path in sorted(glob.glob(os.path.join(results, name, "seed*.json"))):
    with open(path) as f:
      records.append(json.load(f))
  return records


# ---- tables ------------------------------------------------------------------------------------

def _number(x: float) -> str:
  return f"{x:.4g}" if abs(x) < 1e5 else f"{x:.0f}"


def _duration(seconds: list) -> str:
  if not seconds:
    return "-"
  mean = sum(seconds) / len(seconds)
  return f"{mean:.0f} s" if mean < 120 else f"{mean / 60:.1f} min"


def _caption(table: str) -> str:
  return f"*{TITLES.get(table, table)}: generated by `python -m launch.reproduce` from results/; do not edit.*\n\n"


def claim_row(folder: str, name: str, claim: dict, records: list) -> str:
  shown = f"`{config_arg(folder, name, claim)}`"
  command = f"`python -m launch.reproduce --only={name} --seeds={max(len(records), 1)}`"
  band = f"{_number(claim['value'])} ± {_number(claim['tolerance'])}"
  if not records:
    return f"| {shown} | {claim['metric']} | not measured | | {band} | | | | {command} |"
  values = [r["value"] for r in records]
  mean = sum(values) / len(values)
  spread = f"{_number(min(values))} – {_number(max(values))} ({len(values)} seeds)" if len(values) > 1 else "1 seed"
  train = _duration([r["train_time_s"] for r in records if r.get("train_time_s") is not None])
  hardware = ", ".join(sorted({r["hardware"] for r in records}))
  date = max(r["date"] for r in records)
  return (f"| {shown} | {claim['metric']} | **{_number(mean)}** | {spread} | {band} | "
          f"{'in' if in_band(claim, mean) else 'OUT'} | {train} | {hardware} | {date} | {command} |")


def claims_table(folder: str, claims: dict, results: str, table: str) -> str:
  lines = ["| config | metric | mean | min – max | claim ± band | rerun | train time | hardware | date | command |",
           "|---|---|---|---|---|---|---|---|---|---|"]
  rows = [claim_row(folder, name, claim, load_results(results, name))
          for name, claim in sorted(claims.items()) if table_of(claim) == table]
  return _caption(table) + "\n".join(lines + (rows or ["| no config of this kind has a CLAIM yet | | | | | | | | | |"]))


def benchmark_table(results: str) -> str:
  """One row per comparison in each --results/benchmarks/*.json written by `launch.benchmark --out`."""
  lines = [_caption("benchmarks") + "| benchmark | what | ours | peer | ratio | machine (load before / after) | date | command |",
           "|---|---|---|---|---|---|---|---|"]
  for path in sorted(glob.glob(os.path.join(results, "benchmarks", "*.json"))):
    with open(path) as f:
      record = json.load(f)
    m = record["machine"]
    machine = f"{m['cpu']}, {m['cores']} cores ({m['load_before']:.1f} / {m.get('load_after', 0):.1f})"
    for c in record["comparisons"]:
      (a, va), (b, vb) = list(c["sides"].items())[:2]
      ratio = f"{'>= ' if c['at_least'] else ''}{c['speedup']:.2f}x"
      lines.append(f"| {record['benchmark']} | {c['what']} ({c['unit']}) | {a} {_number(va)} | {b} {_number(vb)} | "
                   f"{ratio} | {machine} | {record['date'][:10]} | `{record['command']}` |")
  return "\n".join(lines)


def table_of(claim: dict) -> str:
  return claim.get("table") or TABLE_OF_WORKLOAD.get(claim["workload"], claim["workload"])


def in_band(claim: dict, mean: float) -> bool:
  return abs(mean - claim["value"]) <= claim["tolerance"]


def replace_between(text: str, begin: str, end: str, table: str) -> tuple:
  """`text` with everything between each `begin` ... `end` pair replaced by `table`; and how many."""
  pieces, position, count = [], 0, 0
  while (start := text.find(begin, position)) >= 0 and (stop := text.find(end, start)) >= 0:
    pieces.append(f"{text[position:start]}{begin}\n{table}\n")
    position, count = stop, count + 1
  pieces.append(text[position:])
  return "".join(pieces), count


def rewrite_tables(path: str, tables: dict) -> list:
  """Replaces each marked table in `path` whose name is in `tables`; returns the names it found."""
  with open(path) as f:
    text = f.read()
  found = []
  for name, table in tables.items():
    text, count = replace_between(text, f"<!-- reproduce:{name}:begin -->", f"<!-- reproduce:{name}:end -->", table)
    found += [name] * bool(count)
  with open(path, "w") as f:
    f.write(text)
  return found


def all_tables(folder: str, claims: dict, results: str) -> dict:
  names = sorted({table_of(c) for c in claims.values()} | set(TABLE_OF_WORKLOAD.values()))
  tables = {name: claims_table(folder, claims, results, name) for name in names}
  tables["benchmarks"] = benchmark_table(results)
  return tables


# ---- the command -------------------------------------------------------------------------------

def outside_bands(claims: dict, results: str) -> list:
  """`config: why` for each selected claim whose rerun mean is outside its band (or missing)."""
  bad = []
  for name, claim in sorted(claims.items()):
    values = [r["value"] for r in load_results(results, name)]
    if not values:
      bad.append(f"{name}: no results under {results}/{name}")
      continue
    mean = sum(values) / len(values)
    if not in_band(claim, mean):
      bad.append(f"{name}: {claim['metric']} mean {mean:.6g} over {len(values)} seed(s) is outside "
                 f"{claim['value']} ± {claim['tolerance']}")
  return bad


def reproduce(folder: str, chosen: dict, seeds: int, runs: str, results: str, train: bool = True) -> None:
  for name, claim in chosen.items():
    for seed in range(seeds or claim.get("seeds", 1)):
      if train:
        start = time.time()
        run_seed(folder, name, claim, seed, runs)
        print(f"  done in {time.time() - start:.0f} s (load {os.getloadavg()[0]:.1f})", flush=True)
      if os.path.exists(os.path.join(runs, name, f"seed{seed}", "summary.json")):
        record = collect(folder, name, claim, seed, runs, results)
        print(f"  {name} seed {seed}: {record['metric']} = {record['value']:.6g}", flush=True)


def define_flags() -> None:
  """The script's flags, defined only when it runs (tests import its functions beside other tools)."""
  flags.DEFINE_list("only", [], "Configs to rerun (names under --configs); default: every one with a CLAIM.")
  flags.DEFINE_integer("seeds", 0, "Seeds per config (0, 1, ...); 0: the claim's own `seeds` (else 1).")
  flags.DEFINE_bool("check", False, "Exit 1, naming each config, when a mean falls outside its band.")
  flags.DEFINE_bool("run", True, "Train; --norun only collects the workdirs already there and "
                    "regenerates the tables.")
  flags.DEFINE_string("configs", "configs", "Folder of config files.")
  flags.DEFINE_string("results", "results", "Folder of the summaries the tables are generated from.")
  flags.DEFINE_string("runs", "runs/reproduce", "Folder of the runs' workdirs.")
  flags.DEFINE_list("docs", ["README.md", "WORKSPACE.md"], "Files whose marked tables are regenerated.")


def main(argv):
  if len(argv) > 1:
    raise SystemExit(f"error: unexpected arguments {argv[1:]}; see --help")
  f = flags.FLAGS
  folder = f.configs.rstrip("/")
  claims = load_claims(folder)
  chosen = select(claims, f.only)
  reproduce(folder, chosen, f.seeds, f.runs, f.results, train=f.run)
  tables = all_tables(folder, claims, f.results)
  for doc in f.docs:
    print(f"{doc}: regenerated {', '.join(rewrite_tables(doc, tables)) or 'no tables (no markers)'}")
  if f.check:
    bad = outside_bands(chosen, f.results)
    for line in bad:
      print(f"error: {line}", file=sys.stderr)
    if bad:
      sys.exit(1)
    print(f"check: {len(chosen)} config(s) within their bands")


if __name__ == "__main__":
  define_flags()
  app.run(main)
