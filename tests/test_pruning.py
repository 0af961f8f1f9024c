"""Magnitude pruning: the schedule, the global threshold, masks held at zero through updates and checkpoints."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import pytest

from bigmodel_jax.engine import pruning, trainer
from conftest import make_config, params


def _cfg(**changes):
  return ml_collections.ConfigDict({**{k: d for k, (d, _) in pruning.PRUNE_SECTION.items()}, **changes})


def test_schedule_ramps_cubically_to_the_target():
  cfg = _cfg(sparsity=0.8, begin_step=0, ramp_fraction=0.5)
  assert float(pruning.scheduled_sparsity(cfg, 0, 100)) == 0.0
  assert float(pruning.scheduled_sparsity(cfg, 25, 100)) == pytest.approx(0.8 * (1 - 0.5 ** 3))
  assert float(pruning.scheduled_sparsity(cfg, 50, 100)) == pytest.approx(0.8)
  assert float(pruning.scheduled_sparsity(cfg, 90, 100)) == pytest.approx(0.8)


def test_global_threshold_spans_all_kernels_and_spares_biases():
  tree = {"a": {"kernel": jnp.array([[1.0, 2.0], [3.0, 4.0]]), "bias": jnp.array([0.01, 0.02])},
          "b": {"kernel": jnp.array([[5.0, 6.0], [7.0, 8.0]])}}
  masks = pruning.magnitude_masks(tree, 0.5)
  assert np.asarray(masks["a"]["kernel"]).sum() == 0         # The 4 smallest of 8 are all in layer a.
  assert np.asarray(masks["b"]["kernel"]).sum() == 4
  assert np.asarray(masks["a"]["bias"]).sum() == 2


def test_pruned_weights_stay_exactly_zero_through_adam_updates():
  cfg = _cfg(sparsity=0.5, begin_step=0, ramp_fraction=0.01, update_every_steps=1)
  tx = optax.chain(optax.adam(0.1), pruning.magnitude_pruning(cfg, total_steps=100))
  p = {"kernel": jax.random.normal(jax.random.PRNGKey(0), (8, 8))}
  state = tx.init(p)
  for i in range(5):
    grads = {"kernel": jax.random.normal(jax.random.PRNGKey(i + 1), (8, 8))}
    updates, state = tx.update(grads, state, p)
    p = optax.apply_updates(p, updates)
  masks = state[1].masks["kernel"]
  assert np.all(np.asarray(p["kernel"])[np.asarray(masks) == 0] == 0.0)
  assert np.mean(np.asarray(p["kernel"]) == 0) == pytest.approx(0.5, abs=0.02)


def test_pruned_run_reaches_its_sparsity_and_keeps_it_in_checkpoints(tmp_path):
  config = make_config("cnn_digits", **{"prune.sparsity": 0.8, "prune.update_every_steps": 2,
                                        "prune.ramp_fraction": 0.5})
  summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["sparsity"]["global"] == pytest.approx(0.8, abs=0.01)
  assert set(summary["sparsity"]["per_layer"]) == {"Conv_0/kernel", "Conv_1/kernel", "Dense_0/kernel",
                                                   "Dense_1/kernel"}
  kernels = [a for a in params(str(tmp_path)) if a.ndim > 1]
  zeros = sum(int(np.sum(a == 0)) for a in kernels) / sum(a.size for a in kernels)
  assert zeros == pytest.approx(0.8, abs=0.01)     # What the checkpoint holds, read back.
  assert np.isfinite(summary["test"]["loss"])


def test_language_model_prunes_its_kernels(tmp_path):
  config = make_config("lm_shakespeare_char", **{"prune.sparsity": 0.5, "prune.update_every_steps": 5,
                                                 "prune.ramp_fraction": 0.5})
  summary = trainer.train_and_evaluate(config, str(tmp_path))
  assert summary["sparsity"]["global"] == pytest.approx(0.5, abs=0.01)
  assert np.isfinite(summary["test"]["loss"])
  assert not any(name.endswith("bias") for name in summary["sparsity"]["per_layer"])


def test_biases_and_scales_are_never_pruned_whatever_their_rank():
  params = {"attn": {"qkv_kernel": np.ones((3, 4, 2, 2)), "qkv_bias": np.ones((3, 2, 2)), "out_bias": np.ones(4)},
            "norm": {"scale": np.ones((2, 4))}, "token_embedding": {"embedding": np.ones((5, 4))}}
  which = pruning.prunable(params)
  assert which["attn"]["qkv_kernel"] and which["token_embedding"]["embedding"]
  assert not (which["attn"]["qkv_bias"] or which["attn"]["out_bias"] or which["norm"]["scale"])
