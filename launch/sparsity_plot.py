r"""Test metric against the sparsity reached, from pruned runs' summary.json (and a dense run at 0).

  python -m launch.sparsity_plot --runs=runs/cnn_fast,runs/cnn_fast_pruned50,runs/cnn_fast_pruned80 \
      --out=runs/sparsity.png
"""
import json
import os

from absl import app, flags

_RUNS = flags.DEFINE_list("runs", None, "Workdirs of finished runs (a run without pruning counts as 0%).")
_METRIC = flags.DEFINE_string("metric", "accuracy", "Key of the summary's test metrics.")
_OUT = flags.DEFINE_string("out", "runs/sparsity.png", "PNG to write.")


def points(workdirs, metric: str) -> list:
  rows = []
  for workdir in workdirs:
    with open(os.path.join(workdir, "summary.json")) as f:
      summary = json.load(f)
    rows.append((summary.get("sparsity", {}).get("global", 0.0), summary["test"][metric]))
  return sorted(rows)


def main(argv):
  del argv
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  rows = points(_RUNS.value, _METRIC.value)
  fig, ax = plt.subplots(figsize=(4, 3))
  ax.plot([100 * s for s, _ in rows], [m for _, m in rows], "o-")
  ax.set_xlabel("kernel sparsity (%)")
  ax.set_ylabel(f"test {_METRIC.value}")
  fig.tight_layout()
  fig.savefig(_OUT.value, dpi=100)
  for s, m in rows:
    print(f"sparsity {s:.4f}  {_METRIC.value} {m:.4f}")


if __name__ == "__main__":
  flags.mark_flags_as_required(["runs"])
  app.run(main)
