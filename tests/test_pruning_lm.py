"""Pruning the language model: the pruned config fine-tunes a trained run to its sparsity, reported
per layer; the sparsity plot reads a language model's validation loss (lower is better)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bigmodel_jax.engine import trainer
from conftest import REPO, losses, make_config, params
from launch import sparsity_plot


def _write_summary(workdir, sparsity, loss):
  os.makedirs(workdir)
  summary = {"final_split": "validation", "test": {"loss": loss}}
  if sparsity:
    summary["sparsity"] = {"global": sparsity, "per_layer": {}}
  with open(os.path.join(workdir, "summary.json"), "w") as f:
    json.dump(summary, f)


def test_sparsity_plot_reads_the_validation_loss_of_language_models(tmp_path):
  runs = [str(tmp_path / name) for name in ("p80", "dense", "p50")]
  for run, sparsity, loss in zip(runs, (0.8, 0.0, 0.5), (1.9, 1.7, 1.75)):
    _write_summary(run, sparsity, loss)
  assert sparsity_plot.points(runs, "loss") == [(0.0, 1.7), (0.5, 1.75), (0.8, 1.9)]
  assert sparsity_plot.axis_label(runs, "loss") == "validation loss (lower is better)"
  out = str(tmp_path / "plot.png")
  result = subprocess.run([sys.executable, "-m", "launch.sparsity_plot", f"--runs={','.join(runs)}",
                           "--metric=loss", f"--out={out}"], cwd=REPO, capture_output=True, text=True, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  assert os.path.getsize(out) > 0 and "sparsity 0.8000  loss 1.9000" in result.stdout


@pytest.mark.slow
def test_the_pruned_config_fine_tunes_a_trained_lm_to_its_sparsity(tmp_path):
  source, pruned = str(tmp_path / "dense"), str(tmp_path / "pruned")
  trainer.train_and_evaluate(make_config("lm_shakespeare_char"), source)
  summary = trainer.train_and_evaluate(make_config("lm_shakespeare_char_pruned", init_from=source), pruned)
  assert losses(pruned)[0] < losses(source)[0] - 0.3     # Started from the trained weights, not afresh.
  assert summary["sparsity"]["global"] == pytest.approx(0.8, abs=0.01)
  per_layer = summary["sparsity"]["per_layer"]
  assert any("token_embedding" in name for name in per_layer) and all(0 <= s <= 1 for s in per_layer.values())
  kernels = [a for a in params(pruned) if a.ndim > 1]
  assert sum(int(np.sum(a == 0)) for a in kernels) / sum(a.size for a in kernels) == pytest.approx(0.8, abs=0.01)
