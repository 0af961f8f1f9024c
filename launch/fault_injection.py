r"""Kills runs with SIGKILL at random moments, reruns them, and checks nothing was lost or changed.

  python -m launch.fault_injection                                  # every workload's tiny config, 20 kills each
  python -m launch.fault_injection --configs=cnn_digits,lm_shakespeare_char --kills=5 --seed=1

For each config's `:tiny` variant: one uninterrupted run, then a second workdir where
the launcher is started, killed with SIGKILL and started again, `--kills` times (every
other kill waits for a checkpoint write to begin and kills during it; the others at a
random moment of the run), then run to the end. It reports, per config:

  resumes     launches after the first kill that did not fail (must equal the launches)
  differing   final metrics or metrics.jsonl rows that differ from the uninterrupted run (must be 0)
  lost        kills after which the newest checkpoint finished before the kill was no longer
              readable (must be 0)
  rows lost / duplicated   metrics.jsonl rows missing, or logged more often than uninterrupted,
              at the end (must be 0)

Each launch uses a persistent compilation cache in the output folder, so reruns start fast.
Exit status 1 when any config breaks a "must".
"""
import json
import os
import random
import signal
import subprocess
import sys
import time
from typing import Optional

from absl import app, flags

from launch.run_records import strip_timings

ALL_CONFIGS = ["cnn_digits", "lm_shakespeare_char", "lstm_shakespeare_char", "dcgan_fashion_mnist",
               "wgan_gp_fashion_mnist", "vae_fashion_mnist", "ppo_cartpole", "reinforce_cartpole", "kmeans_digits"]
# Config overrides of both runs: checkpoints every 2 steps give the kills more writes to hit.
DEFAULT_OVERRIDES = ("checkpoint.every_steps=2",)


def define_flags() -> None:
  """The script's flags, defined only when it runs (tests import its functions beside other tools)."""
  flags.DEFINE_list("configs", ALL_CONFIGS, "Configs whose :tiny variant is killed.")
  flags.DEFINE_integer("kills", 20, "SIGKILLs per config.")
  flags.DEFINE_integer("seed", 0, "Seed of the kill moments.")
  flags.DEFINE_string("out", "runs/fault_injection", "Folder for the runs, the cache and report.json.")
  flags.DEFINE_integer("timeout_s", 600, "Longest a single launch may take.")
  flags.DEFINE_list("overrides", list(DEFAULT_OVERRIDES), "Config overrides of both runs.")


# How each kill picks its moment, in turn: while a checkpoint is being written; once the run has
# logged a random number of metric rows; at a random moment from the launch on (start-up included).
TRIGGERS = ("write", "progress", "moment")

TMP_MARKER = ".orbax-checkpoint-tmp"   # Orbax writes a checkpoint under this name, then renames it.


class Campaign:
  """How every launch of one campaign runs: config overrides, environment, time limit."""

  def __init__(self, out: str, overrides=DEFAULT_OVERRIDES, timeout_s: int = 600):
    self.overrides, self.timeout_s = tuple(overrides), timeout_s
    cache = os.path.join(out, "compilation_cache")
    self.env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": cache,
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0", "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}

  def command(self, name: str, workdir: str) -> list:
    return [sys.executable, "-m", "launch.main", f"--config=configs/{name}.py:tiny", f"--workdir={workdir}",
            *[f"--config.{o}" for o in self.overrides]]


def _finished_steps(workdir: str) -> list:
  folder = os.path.join(workdir, "checkpoints")
  return sorted(int(n) for n in os.listdir(folder) if n.isdigit()) if os.path.isdir(folder) else []


def _writing(workdir: str) -> bool:
  folder = os.path.join(workdir, "checkpoints")
  return os.path.isdir(folder) and any(TMP_MARKER in n for n in os.listdir(folder))


def _readable(workdir: str, step: int) -> bool:
  """Whether checkpoint `step` restores (in a fresh process: the same way a rerun reads it)."""
  code = ("import sys; from bigmodel_jax.engine.checkpoints import Checkpointer; "
          f"c = Checkpointer({workdir!r}, keep=1, read_only=True); c.restore_raw({step}); c.close()")
  return subprocess.run([sys.executable, "-c", code], capture_output=True, env={**os.environ, "JAX_PLATFORMS": "cpu"},
                        check=False).returncode == 0


def _run_to_end(campaign: Campaign, name: str, workdir: str) -> subprocess.CompletedProcess:
  return subprocess.run(campaign.command(name, workdir), capture_output=True, text=True, env=campaign.env,
                        timeout=campaign.timeout_s, check=False)


def _rows_logged(workdir: str) -> int:
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.exists(path):
    return 0
  with open(path) as f:
    return sum(1 for _ in f)


def _kill_once(campaign: Campaign, name: str, workdir: str, trigger: str, target: float) -> dict:
  """Starts the run and SIGKILLs it when `trigger` fires (`target`: rows logged, or seconds).
  Returns whether it was killed, the newest finished checkpoint before the kill, and more."""
  rows_at_start = _rows_logged(workdir)
  process = subprocess.Popen(campaign.command(name, workdir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             env=campaign.env)
  start = time.monotonic()
  fired = {"write": lambda: _writing(workdir), "progress": lambda: _rows_logged(workdir) - rows_at_start >= target,
           "moment": lambda: time.monotonic() - start >= target}[trigger]
  while process.poll() is None and time.monotonic() - start < campaign.timeout_s and not fired():
    time.sleep(0.002)
  before = _finished_steps(workdir)
  killed = process.poll() is None
  if killed:
    os.kill(process.pid, signal.SIGKILL)
  process.wait()
  stderr = process.stderr.read().decode()
  process.stderr.close()
  return {"killed": killed, "during_write": trigger == "write" and killed,
          "newest_before": before[-1] if before else None, "at_s": round(time.monotonic() - start, 2),
          "failed": not killed and process.returncode != 0,
          "stderr": stderr.strip().splitlines()[-1:] if not killed else []}


def _rows(workdir: str) -> list:
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [strip_timings(json.loads(line)) for line in f if line.strip()]


def _final(workdir: str) -> dict:
  with open(os.path.join(workdir, "summary.json")) as f:
    summary = strip_timings(json.load(f))
  return {k: summary.get(k) for k in ("step", "test", "test_details")}


def _episode(campaign: Campaign, name: str, workdir: str, kills_left: int, rows: int, length: float,
             rng: random.Random) -> tuple[list, int, bool]:
  """Kills runs in `workdir` until one finishes (or no kills are left, then finishes it).
  Returns (kill events, checkpoints lost, whether the last launch succeeded)."""
  events, lost = [], 0
  while len(events) < kills_left:
    trigger = TRIGGERS[len(events) % len(TRIGGERS)]
    target = rng.randint(1, max(rows, 1)) if trigger == "progress" else rng.uniform(0.0, 1.2 * length)
    event = _kill_once(campaign, name, workdir, trigger, target)
    events.append(event)
    if not event["killed"]:
      return events, lost, not event["failed"]
    newest = event["newest_before"]
    if newest is not None and all(s <= newest for s in _finished_steps(workdir)) and not _readable(workdir, newest):
      lost += 1
  result = _run_to_end(campaign, name, workdir)
  events.append({"killed": False, "during_write": False, "failed": result.returncode != 0,
                 "stderr": result.stderr.strip().splitlines()[-1:] if result.returncode else []})
  return events, lost, result.returncode == 0


def inject(name: str, out: str, kills: int, rng: random.Random, campaign: Optional[Campaign] = None) -> dict:
  """Runs the campaign for one config (episodes in fresh workdirs until `kills` kills happened);
  returns its row of the report."""
  campaign = campaign or Campaign(out)
  straight = os.path.join(out, name, "straight")
  start = time.monotonic()
  result = _run_to_end(campaign, name, straight)
  if result.returncode:
    raise RuntimeError(f"{name}: the uninterrupted run failed: {result.stderr.strip().splitlines()[-1:]}")
  length, expected, final = time.monotonic() - start, _rows(straight), _final(straight)
  row = {"config": name, "kills": 0, "during_write": 0, "resumes": 0, "launches": 0, "failed_launches": [],
         "differing": 0, "lost": 0, "rows_lost": 0, "rows_duplicated": 0, "straight_s": round(length, 1)}
  episode = 0
  while row["kills"] < kills:
    workdir = os.path.join(out, name, f"killed_{episode}")
    events, lost, ok = _episode(campaign, name, workdir, kills - row["kills"], len(expected), length, rng)
    after_kills = events[1:]   # Launches that started after a kill.
    row["kills"] += sum(e["killed"] for e in events)
    row["during_write"] += sum(e["during_write"] for e in events)
    row["launches"] += len(after_kills)
    row["resumes"] += sum(not e["failed"] for e in after_kills)
    row["failed_launches"] += [e["stderr"] for e in events if e["failed"]]
    row["lost"] += lost
    missing, extra, differing = compare_rows(expected, _rows(workdir) if ok else [])
    row["rows_lost"] += missing
    row["rows_duplicated"] += extra
    row["differing"] += differing + int(not ok or _final(workdir) != final)
    episode += 1
  return row


def compare_rows(expected: list, got: list) -> tuple[int, int, int]:
  """(rows missing, rows logged more often than in `expected`, rows whose values differ), rows
  matched by their step and metric names."""
  def by_key(rows):
    grouped = {}
    for row in rows:
      grouped.setdefault((row["step"], tuple(sorted(row))), []).append(row)
    return grouped
  want, have = by_key(expected), by_key(got)
  missing = sum(max(len(rows) - len(have.get(key, [])), 0) for key, rows in want.items())
  extra = sum(max(len(rows) - len(want.get(key, [])), 0) for key, rows in have.items())
  differing = sum(a != b for key, rows in want.items() for a, b in zip(rows, have.get(key, [])))
  return missing, extra, differing


def table(rows: list) -> str:
  lines = ["| config | kills | during a checkpoint write | resumes / launches | differing | checkpoints lost | "
           "rows lost | rows duplicated |", "|---|---|---|---|---|---|---|---|"]
  lines += [f"| {r['config']} | {r['kills']} | {r['during_write']} | {r['resumes']} / {r['launches']} | "
            f"{r['differing']} | {r['lost']} | {r['rows_lost']} | {r['rows_duplicated']} |" for r in rows]
  return "\n".join(lines)


def broken(row: dict) -> bool:
  return bool(row["differing"] or row["lost"] or row["rows_lost"] or row["rows_duplicated"] or row["failed_launches"])


def main(argv):
  del argv
  f = flags.FLAGS
  os.makedirs(f.out, exist_ok=True)
  rng, rows = random.Random(f.seed), []
  for name in f.configs:
    rows.append(inject(name, f.out, f.kills, rng, Campaign(f.out, f.overrides, f.timeout_s)))
    print(table(rows[-1:]).splitlines()[-1], flush=True)
  with open(os.path.join(flags.FLAGS.out, "report.json"), "w") as f:
    json.dump(rows, f, indent=2)
  print(table(rows))
  return 1 if any(broken(r) for r in rows) else 0


if __name__ == "__main__":
  define_flags()
  app.run(main)
