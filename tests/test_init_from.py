"""`init_from` fills every workload's transferable state from another run, by path and shape."""
import dataclasses

import jax
import numpy as np
import pytest

from bigmodel_jax.config.validate import check_config
from bigmodel_jax.engine import trainer
from bigmodel_jax.engine.checkpoints import Checkpointer, path_name
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads import get_workload
from conftest import load_config

# One tiny config per workload that the supervised tests (test_train.py) do not already cover.
CONFIGS = ["dcgan_fashion_mnist", "vae_fashion_mnist", "lm_shakespeare_char", "ppo_cartpole", "kmeans_fashion_mnist"]


def _leaves(tree) -> dict:
  return {path_name(p): np.asarray(x) for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _saved_state(workdir: str) -> dict:
  checkpointer = Checkpointer(workdir, keep=1, read_only=True)
  try:
    return _leaves(checkpointer.restore_raw(checkpointer.latest_step())["train_state"])
  finally:
    checkpointer.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_init_from_takes_the_transfer_fields_and_leaves_the_rest(name, tmp_path):
  source = load_config(name, "tiny")
  trainer.train_and_evaluate(source, str(tmp_path / "source"))
  config = load_config(name, "tiny")
  with config.unlocked():
    config.init_from = str(tmp_path / "source")
    config.seed = 1   # A fresh state that differs from the source's start.
  run, fresh = trainer.build_run(config, str(tmp_path / "target"))
  run.checkpointer.close()
  started, _, step = trainer.restore_or_init(run, fresh)
  saved, fresh, started = _saved_state(str(tmp_path / "source")), _leaves(fresh), _leaves(started)
  prefixes = get_workload(config.workload).transfer_fields
  moved = [n for n in started if any(n == p or n.startswith(p + "/") for p in prefixes)]
  assert step == 0 and moved
  for name_ in started:
    expected = saved[name_] if name_ in moved else fresh[name_]
    np.testing.assert_array_equal(started[name_], expected, err_msg=name_)
  assert any(not np.array_equal(fresh[n], saved[n]) for n in moved)   # It did change something.


def test_a_workload_without_transfer_fields_refuses_init_from():
  config = load_config("kmeans_digits", "tiny")
  with config.unlocked():
    config.init_from = "runs/elsewhere"
  workload = dataclasses.replace(get_workload("kmeans"), transfer_fields=())
  with pytest.raises(ConfigError, match="init_from='runs/elsewhere': workload 'kmeans' cannot start from"):
    check_config(config, workload)
