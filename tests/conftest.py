"""Test set-up: 8 simulated CPU devices (set before JAX initialises) and config loading."""
import os

from launch import xla_flags

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
xla_flags.set_defaults()  # The CPU kernels the launchers use.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import importlib.util  # noqa: E402

import jax  # noqa: E402
import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FASHION_MNIST_DIR = os.path.join(REPO, "data", "fashion_mnist")


def load_config(name: str, variant=None):
  """Loads configs/<name>.py the way `--config=configs/<name>.py:<variant>` does."""
  spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, "configs", f"{name}.py"))
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config(variant)
  config.train.progress_bar = False
  config.lock()
  return config


@pytest.fixture(scope="session", autouse=True)
def eight_devices():
  assert jax.device_count() == 8, "XLA_FLAGS was set too late: JAX was initialised before conftest"
