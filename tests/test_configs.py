"""Every experiment config loads, is built from the declarations alone and passes validation."""
import ast
import glob
import os

import jax
import jax.numpy as jnp
import pytest

from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.config.validate import check_config
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import MODELS, build_model
from bigmodel_jax.workloads import WORKLOADS, get_workload
from conftest import REPO, load_config

CONFIGS = sorted(os.path.basename(p)[:-3] for p in glob.glob(os.path.join(REPO, "configs", "*.py")))
SUPERVISED_INPUT_SHAPES = {"fashion_mnist": (28, 28, 1), "tfds": (32, 32, 3), "digits": (8, 8, 1),
                           "linear_regression": (1,), "synthetic": (16, 16, 1), "xor": (2,)}


def _variants(name):
  with open(os.path.join(REPO, "configs", f"{name}.py")) as f:
    text = f.read()
  return [None] + [v for v in ("tiny", "bench") if f'arg == "{v}"' in text]


@pytest.mark.parametrize("name", CONFIGS)
def test_every_variant_has_exactly_its_workloads_sections_and_validates(name):
  for variant in _variants(name):
    config = load_config(name, variant)
    workload = get_workload(config.workload)
    assert set(config) == set(sections.TOP) | set(workload.sections) | ({"model"} & set(config))
    for section, declaration in workload.sections.items():
      assert set(config[section]) == set(declaration), (name, variant, section)
    check_config(config, workload)


@pytest.mark.parametrize("name", [n for n in CONFIGS if load_config(n).workload == "supervised"])
def test_supervised_model_builds_on_its_data_shape(name):
  config = load_config(name)
  model = build_model(config.model, num_outputs=10)
  shape = (2,) + SUPERVISED_INPUT_SHAPES[config.data.name]
  variables = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape), train=False))
  assert variables["params"]


@pytest.mark.parametrize("name", CONFIGS)
def test_docstring_gives_the_command_of_its_own_config(name):
  with open(os.path.join(REPO, "configs", f"{name}.py")) as f:
    docstring = ast.get_docstring(ast.parse(f.read())) or ""
  assert f"python -m launch.main --config=configs/{name}.py" in docstring


def test_no_block_of_six_lines_is_repeated_between_config_files():
  """Past the shared header (docstring, imports, `def get_config`), each file holds only its own values."""
  seen = {}
  for name in CONFIGS:
    with open(os.path.join(REPO, "configs", f"{name}.py")) as f:
      text = f.read()
    body = text[text.index("def get_config"):].splitlines()[1:]
    lines = [line.strip() for line in body if line.strip() and not line.strip().startswith("#")]
    for i in range(len(lines) - 5):
      block = tuple(lines[i:i + 6])
      if block in seen and seen[block] != name:
        pytest.fail(f"configs/{name}.py repeats six lines of configs/{seen[block]}.py: {block}")
      seen.setdefault(block, name)


def test_sections_and_experiments_reject_undeclared_keys_and_sections():
  with pytest.raises(KeyError, match="learning_rat"):
    sections.optimizer(learning_rat=0.1)
  with pytest.raises(KeyError, match="rl"):
    experiment("supervised", rl=dict(num_seeds=2))
  with pytest.raises(KeyError, match="kernel"):
    sections.model("cnn", kernel=3)


def test_every_model_option_is_declared_with_a_check():
  for name in MODELS:
    declaration = sections.model_declaration(name)
    assert all(callable(check) for _, check in declaration.values()), name


@pytest.mark.parametrize("workload, dotted, value", [
    ("rl", "train.num_epochs", 3),
    ("rl", "train.batch_size", 64),
    ("kmeans", "train.ema_decay", 0.9),
    ("lm", "train.num_epochs", 2),
])
def test_a_key_the_workload_does_not_read_is_refused_when_set(workload, dotted, value):
  name = next(n for n in CONFIGS if load_config(n).workload == workload)
  config = load_config(name, "tiny").unlock()
  section, key = dotted.split(".")
  config[section][key] = value
  with pytest.raises(ConfigError, match=f"{dotted}={value!r} has no effect in workload {workload!r}"):
    check_config(config, get_workload(workload))


def test_every_workload_declares_the_shared_sections():
  for name, workload in WORKLOADS.items():
    assert set(sections.COMMON) <= set(workload.sections), name
