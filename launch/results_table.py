r"""Rewrites the results table in WORKSPACE.md from the summary.json files of finished runs.

  .venv/bin/python -m launch.results_table --runs=runs [--workspace=WORKSPACE.md]

Each run directory under --runs contributes one row: the run, the --config it
was started with, its final metrics, the steps, the training and wall time, and
the hardware and date it ran on (all recorded in its summary.json).
"""
import datetime
import glob
import json
import os

from absl import app, flags

_RUNS = flags.DEFINE_string("runs", "runs", "Folder whose subfolders are run workdirs.")
_WORKSPACE = flags.DEFINE_string("workspace", "WORKSPACE.md", "File holding the table between markers.")

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _row(run_dir: str, summary: dict) -> str:
  test = summary["test"]
  shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(test.items())
                    if isinstance(v, (int, float)) and (k != "loss" or len(test) == 1))
  # Runs record their own hardware, date and --config; older summaries fall back to guesses.
  date = summary.get("date") or datetime.date.fromtimestamp(os.path.getmtime(os.path.join(run_dir, "summary.json")))
  hardware = summary.get("hardware") or f"{summary['devices']}x {summary['device_kind']}"
  train = summary.get("train_time_s")
  train = f"{train:.0f} s" if train is not None else "-"
  name = os.path.basename(run_dir)
  source = summary.get("config_source") or (f"configs/{name}.py" if os.path.exists(f"configs/{name}.py") else "")
  command = f"`--config={source}`" if source else "(custom)"
  return (f"| {name} | {command} | {shown} | {summary['step']} | {train} | "
          f"{summary['wall_time_s']:.0f} s | {hardware} | {date} |")


def results_table(runs: str) -> str:
  lines = ["| run | config | test metrics | steps | train time | wall time | hardware | date |",
           "|---|---|---|---|---|---|---|---|"]
  for path in sorted(glob.glob(os.path.join(runs, "*", "summary.json"))):
    with open(path) as f:
      lines.append(_row(os.path.dirname(path), json.load(f)))
  return "\n".join(lines)


def main(argv):
  del argv
  with open(_WORKSPACE.value) as f:
    text = f.read()
  if BEGIN not in text or END not in text:
    raise SystemExit(f"error: {_WORKSPACE.value} has no {BEGIN} ... {END} markers")
  head, rest = text.split(BEGIN, 1)
  _, tail = rest.split(END, 1)
  with open(_WORKSPACE.value, "w") as f:
    f.write(f"{head}{BEGIN}\n{results_table(_RUNS.value)}\n{END}{tail}")
  print(results_table(_RUNS.value))


if __name__ == "__main__":
  app.run(main)
