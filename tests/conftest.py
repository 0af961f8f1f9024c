"""Test set-up and the helpers every test file shares.

Set-up: 8 simulated CPU devices (set before JAX initialises) and one persistent compilation
cache per test process, so a program compiled once (the same tiny config trained again,
resumed, evaluated or sampled) is loaded, not compiled, by every later test.

Helpers: configs with dotted overrides, a run's checkpointed arrays and logged metrics, the
stop-and-resume check, a finished run copied for a test to change, and the launcher as a
subprocess (only for tests of the launcher itself; the rest call `train_and_evaluate`).
"""
import os

from launch import xla_flags

os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8").strip()
xla_flags.set_defaults()  # The CPU kernels the launchers use.
os.environ.setdefault("JAX_PLATFORMS", "cpu")

import hashlib  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from jax.experimental.compilation_cache import compilation_cache  # noqa: E402

from bigmodel_jax.engine import trainer  # noqa: E402
from bigmodel_jax.engine.checkpoints import Checkpointer  # noqa: E402

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


def make_config(name: str, variant="tiny", **overrides):
  """configs/<name>.py:<variant> with overrides named like the launcher's `--config.<key>` flags:
  make_config("cnn_digits", **{"mesh.data": 1, "seed": 3}). The config stays locked, so a
  misspelt key fails here rather than being added."""
  config = load_config(name, variant)
  for dotted, value in overrides.items():
    *sections, key = dotted.split(".")
    node = config
    for section in sections:
      node = node[section]
    node[key] = value
  return config


# ---- what a run left in its workdir --------------------------------------------------------------

def checkpointed_state(workdir: str, step=None) -> dict:
  """The train state of a run's checkpoint (the latest unless `step`), as saved (host arrays)."""
  ckpt = Checkpointer(workdir, keep=10, read_only=True)
  try:
    return ckpt.restore_raw(ckpt.latest_step() if step is None else step)["train_state"]
  finally:
    ckpt.close()


def params(workdir: str, step=None) -> list:
  """The parameters of a run's checkpoint as a flat list of host arrays, in tree order."""
  return [np.asarray(x) for x in jax.tree.leaves(checkpointed_state(workdir, step)["params"])]


def state_arrays(workdir: str, step=None) -> list:
  """Every array of a run's checkpointed train state (parameters, optimizer, environments...)."""
  return [np.asarray(x) for x in jax.tree.leaves(checkpointed_state(workdir, step))]


def metric(workdir: str, key: str) -> list:
  """The values of one logged metric (e.g. "train/loss", "val/fd") in metrics.jsonl, in step order."""
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    return [row[key] for row in map(json.loads, f) if key in row]


def losses(workdir: str) -> list:
  return metric(workdir, "train/loss")


def assert_same_arrays(a: list, b: list, rtol=None, atol=0.0) -> None:
  """Equal bit for bit (rtol=None) or within tolerance; the two lists must be equally long."""
  assert len(a) == len(b) and a, (len(a), len(b))
  for x, y in zip(a, b, strict=True):
    if rtol is None:
      np.testing.assert_array_equal(x, y)
    else:
      np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)


def copy_run(source: str, destination) -> str:
  """A copy of a finished run for a test that changes it (corrupts, resumes, retrains)."""
  shutil.copytree(source, str(destination))
  return str(destination)


def truncate_to_first_checkpoint(workdir: str) -> int:
  """Turns a finished run (a copy) back into one stopped at its first checkpoint: the later
  checkpoints and summary.json are removed, so training it again resumes there. Returns that step."""
  ckpt = Checkpointer(workdir, keep=10, read_only=True)
  steps = ckpt.all_steps()
  ckpt.close()
  for step in steps[1:]:
    shutil.rmtree(os.path.join(workdir, "checkpoints", str(step)))
  os.remove(os.path.join(workdir, "summary.json"))
  return steps[0]


# ---- stopping and resuming -----------------------------------------------------------------------

def stop_at(step: int):
  """An `on_eval` hook that stops training (with a checkpoint) after the evaluation at `step`."""
  def hook(done, state, run, seconds):
    if done == step:
      raise trainer.StopTraining()
  return hook


def stop_and_resume(config_fn, workdir: str, step: int) -> dict:
  """Trains `config_fn()` in `workdir` until the evaluation at `step`, stops there, then runs the
  same command again; returns the second run's summary.

  Checks that the stop saved step `step` and that the second run started from that checkpoint:
  it evaluates only later steps (a run that silently started again from step 0 would also end
  with the straight run's result, so the result alone cannot tell).
  """
  stopped = trainer.train_and_evaluate(config_fn(), workdir, on_eval=stop_at(step))
  assert stopped["step"] == step
  assert Checkpointer(workdir, keep=10, read_only=True).latest_step() == step
  evaluated = []
  summary = trainer.train_and_evaluate(config_fn(), workdir, on_eval=lambda done, *_: evaluated.append(done))
  assert evaluated and min(evaluated) > step, evaluated
  return summary


# ---- the launcher --------------------------------------------------------------------------------

def launch(*args, devices: int = 1, env_extra=None, timeout: int = 300) -> subprocess.CompletedProcess:
  """`python -m launch.main *args` on `devices` simulated CPU devices, output captured."""
  env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
  env.pop("BIGMODEL_TRACEBACK", None)
  env.update(env_extra or {})
  return subprocess.run([sys.executable, "-m", "launch.main", *args], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=timeout)


def file_checksums(directory):
  """Every file under `directory` (relative path) with its SHA-256, or None when it does not exist:
  two snapshots compare equal only if no file was added, removed or changed."""
  if not os.path.exists(directory):
    return None
  found = {}
  for root, _, names in os.walk(directory):
    for name in names:
      path = os.path.join(root, name)
      with open(path, "rb") as f:
        found[os.path.relpath(path, directory)] = hashlib.sha256(f.read()).hexdigest()
  return found


def one_error_line(result: subprocess.CompletedProcess) -> str:
  """The launcher's single `error:` line of a run that failed with exit status 1 and no traceback."""
  assert result.returncode == 1, result.stderr[-2000:]
  assert "Traceback" not in result.stderr, result.stderr[-2000:]
  errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
  assert len(errors) == 1, result.stderr[-2000:]
  return errors[0]


# ---- test distribution --------------------------------------------------------------------------

# Files whose tests share runs trained once by a module fixture. With `-n N` (pytest-xdist) each
# of them runs whole on one worker, which trains those runs once; every other test is handed to
# whichever worker is free. (`--dist loadgroup` would do this with marks, but its group suffix
# does not reach the node ids under pytest 9.)
SHARED_RUN_FILES = ("test_generative.py", "test_generative_coverage.py", "test_kmeans.py", "test_lm.py",
                    "test_reliability.py", "test_rl.py", "test_train.py", "test_export_predict.py",
                    "test_serve.py", "test_rl_speed_options.py")


@pytest.hookimpl(optionalhook=True)   # Known only with pytest-xdist.
def pytest_xdist_make_scheduler(config, log):
  if config.getvalue("dist") != "load":   # Only in place of what `-n N` alone chooses.
    return None
  from xdist.scheduler import LoadScopeScheduling

  class SharedRunScheduling(LoadScopeScheduling):
    """Scopes are the files in SHARED_RUN_FILES and single tests; the largest go out first."""

    def _split_scope(self, nodeid: str) -> str:
      path = nodeid.split("::", 1)[0]
      return path if os.path.basename(path) in SHARED_RUN_FILES else nodeid

  return SharedRunScheduling(config, log)


# ---- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def eight_devices():
  assert jax.device_count() == 8, "XLA_FLAGS was set too late: JAX was initialised before conftest"


@pytest.fixture(scope="session", autouse=True)
def compile_once(tmp_path_factory):
  """A persistent compilation cache for this test process (each pytest-xdist worker has its own)."""
  settings = {"jax_compilation_cache_dir": str(tmp_path_factory.mktemp("xla_cache")),
              "jax_persistent_cache_min_compile_time_secs": 0.0,
              "jax_persistent_cache_min_entry_size_bytes": 0}
  before = {name: getattr(jax.config, name) for name in settings}
  for name, value in settings.items():
    jax.config.update(name, value)
  compilation_cache.reset_cache()   # Also if something compiled before the directory was set.
  yield
  for name, value in before.items():
    jax.config.update(name, value)
  compilation_cache.reset_cache()


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
  """(workdir, summary) of one straight cnn_digits:tiny run on 8 devices; tests that change a run
  work on a `copy_run` of it."""
  workdir = str(tmp_path_factory.mktemp("digits_run"))
  return workdir, trainer.train_and_evaluate(load_config("cnn_digits", "tiny"), workdir)
