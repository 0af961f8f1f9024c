"""Every experiment config loads, declares the shared sections completely and builds its model."""
import glob
import os

import jax
import jax.numpy as jnp
import pytest

from bigmodel_jax import config_sections
from bigmodel_jax.models import build_model
from conftest import REPO, load_config

CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "configs", "*.py")))
INPUT_SHAPES = {"fashion_mnist": (28, 28, 1), "tfds": (32, 32, 3), "digits": (8, 8, 1),
                "linear_regression": (1,), "synthetic": (16, 16, 1)}


@pytest.mark.parametrize("name", CONFIGS)
def test_config_is_complete_and_its_model_builds(name):
  config = load_config(name)
  assert set(config) == {"workload", "seed", "init_from", "model", "data", "optimizer", "train", "eval",
                         "checkpoint", "mesh"}
  for section, builder in (("optimizer", config_sections.optimizer), ("train", config_sections.train),
                           ("eval", config_sections.evaluation), ("checkpoint", config_sections.checkpoint),
                           ("mesh", config_sections.mesh)):
    assert set(config[section]) == set(builder()), section
  model = build_model(config.model, num_outputs=10)
  shape = (2,) + INPUT_SHAPES[config.data.name]
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape), train=False))
  assert variables["params"]


def test_docstrings_give_the_command():
  for name in CONFIGS:
    with open(os.path.join(REPO, "configs", f"{name}.py")) as f:
      assert f"--config=configs/{name}.py" in f.read(), name


def test_sections_reject_unknown_keys():
  with pytest.raises(KeyError, match="learning_rat"):
    config_sections.optimizer(learning_rat=0.1)
