"""Every experiment config loads, declares its shared sections completely and passes validation."""
import glob
import os

import jax
import jax.numpy as jnp
import pytest

from bigmodel_jax import config_sections
from bigmodel_jax.models import build_model
from bigmodel_jax.validation import check_config
from bigmodel_jax.workloads import WORKLOADS, get_workload
from conftest import REPO, load_config

CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "configs", "*.py")))
SUPERVISED_INPUT_SHAPES = {"fashion_mnist": (28, 28, 1), "tfds": (32, 32, 3), "digits": (8, 8, 1),
                           "linear_regression": (1,), "synthetic": (16, 16, 1)}


@pytest.mark.parametrize("name", CONFIGS)
def test_config_declares_its_sections_completely_and_validates(name):
  config = load_config(name)
  assert config.workload in WORKLOADS
  assert {"workload", "seed", "train", "eval", "checkpoint", "mesh"} <= set(config)
  for section in config_sections.SECTIONS:
    if section in config:
      assert set(config[section]) == set(config_sections.checks(section)), section
  check_config(config, get_workload(config.workload))
  tiny = load_config(name, "tiny")
  check_config(tiny, get_workload(tiny.workload))


@pytest.mark.parametrize("name", [n for n in CONFIGS if load_config(n).workload == "supervised"])
def test_supervised_model_builds_on_its_data_shape(name):
  config = load_config(name)
  model = build_model(config.model, num_outputs=10)
  shape = (2,) + SUPERVISED_INPUT_SHAPES[config.data.name]
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape), train=False))
  assert variables["params"]


def test_docstrings_give_the_command():
  for name in CONFIGS:
    with open(os.path.join(REPO, "configs", f"{name}.py")) as f:
      assert f"--config=configs/{name}.py" in f.read(), name


def test_sections_reject_unknown_keys():
  with pytest.raises(KeyError, match="learning_rat"):
    config_sections.optimizer(learning_rat=0.1)
