r"""Final metric against the sparsity reached, from pruned runs' summary.json (and a dense run at 0).

  python -m launch.sparsity_plot --runs=runs/cnn_fast,runs/cnn_fast_pruned50,runs/cnn_fast_pruned80 \
      --out=runs/sparsity.png
  python -m launch.sparsity_plot --metric=loss --runs=runs/lm_char_pruned0,runs/lm_char_pruned80 \
      --out=runs/lm_sparsity.png

The metric is read from the summary's final split (the test split of a classifier, the
validation split of a language model) and labelled with that split.
"""
import json
import os

from absl import app, flags


def define_flags() -> None:
  """The script's flags, defined only when it runs (tests import its functions beside other tools)."""
  flags.DEFINE_list("runs", None, "Workdirs of finished runs (a run without pruning counts as 0%).")
  flags.DEFINE_string("metric", "accuracy", "Key of the summary's final-split metrics (accuracy, loss, ...).")
  flags.DEFINE_string("out", "runs/sparsity.png", "PNG to write.")
  flags.mark_flags_as_required(["runs"])


def read_summary(workdir: str) -> dict:
  with open(os.path.join(workdir, "summary.json")) as f:
    return json.load(f)


def points(workdirs, metric: str) -> list:
  """(global kernel sparsity, the final split's metric) per run, by sparsity."""
  rows = []
  for workdir in workdirs:
    summary = read_summary(workdir)
    rows.append((summary.get("sparsity", {}).get("global", 0.0), summary["test"][metric]))
  return sorted(rows)


def axis_label(workdirs, metric: str) -> str:
  """E.g. "test accuracy (higher is better)" or "validation loss (lower is better)"."""
  split = read_summary(workdirs[0]).get("final_split", "test")
  better = "lower" if metric in ("loss", "bits_per_char", "perplexity") else "higher"
  return f"{split} {metric} ({better} is better)"


def main(argv):
  del argv
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  f = flags.FLAGS
  rows = points(f.runs, f.metric)
  fig, ax = plt.subplots(figsize=(4, 3))
  ax.plot([100 * s for s, _ in rows], [m for _, m in rows], "o-")
  ax.set_xlabel("kernel sparsity (%)")
  ax.set_ylabel(axis_label(f.runs, f.metric))
  fig.tight_layout()
  fig.savefig(f.out, dpi=100)
  for s, m in rows:
    print(f"sparsity {s:.4f}  {f.metric} {m:.4f}")


if __name__ == "__main__":
  define_flags()
  app.run(main)
