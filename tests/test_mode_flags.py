"""Modes declare their flags with checks; the launcher defines them once and describes each mode."""
import os
import re
import subprocess
import sys

import pytest

from bigmodel_jax.config.validate import check_mode_options
from bigmodel_jax.engine.trainer import describe_mode
from bigmodel_jax.errors import ConfigError, UserError
from bigmodel_jax.workloads import WORKLOADS
from conftest import REPO, load_config


def _options(name: str, mode: str, given: dict) -> dict:
  config = load_config(name, "tiny")
  return check_mode_options(config, mode, WORKLOADS[config.workload].modes.get(mode), given)


def test_every_flag_gets_its_declared_default_or_config_value():
  config = load_config("lm_shakespeare_char", "tiny")
  options = _options("lm_shakespeare_char", "sample", {"prompt": "ROMEO:"})
  assert options == {"prompt": "ROMEO:", "num_tokens": config.lm.num_tokens, "num_samples": 1}
  assert _options("dcgan_fashion_mnist", "sample", {}) == {"num_samples": 100}
  episodes = load_config("ppo_cartpole", "tiny").rl.eval_episodes
  assert _options("ppo_cartpole", "eval", {}) == {"num_episodes": episodes}
  assert _options("kmeans_digits", "predict", {}) == {"input": "", "output": ""}


@pytest.mark.parametrize("name, mode, given, message", [
    ("lm_shakespeare_char", "sample", {"num_tokens": 0},
     "--num_tokens=0 is not allowed; expected an integer in [1, 1000000]"),
    ("lm_shakespeare_char", "sample", {"num_samples": -1}, "--num_samples=-1 is not allowed"),
    ("dcgan_fashion_mnist", "sample", {"num_samples": 0}, "--num_samples=0 is not allowed"),
    ("ppo_cartpole", "eval", {"num_episodes": 0}, "--num_episodes=0 is not allowed"),
    ("lm_shakespeare_char", "sample", {"num_episodes": 3},
     "--num_episodes is not a flag of --mode=sample of workload 'lm'; "
     "it takes --num_samples, --num_tokens, --prompt"),
    ("cnn_digits", "eval", {"num_samples": 3}, "--num_samples is not a flag of --mode=eval of workload 'supervised'; "
     "it takes no flags"),
])
def test_bad_or_foreign_flags_are_refused_naming_what_is_allowed(name, mode, given, message):
  with pytest.raises(ConfigError, match=re.escape(message)):
    _options(name, mode, given)


def test_a_mode_is_described_with_its_flags():
  text = describe_mode(load_config("lm_shakespeare_char"), "sample")
  assert "--mode=sample of workload 'lm'" in text
  assert ("--num_tokens: tokens to generate after the prompt; an integer in [1, 1000000]; "
          "default config key lm.num_tokens") in text
  assert "--prompt" in text and "--num_samples" in text
  assert "no flags" in describe_mode(load_config("cnn_digits"), "eval")
  with pytest.raises(UserError, match="offers"):
    describe_mode(load_config("cnn_digits"), "sample")


def test_the_launcher_prints_a_modes_help_without_a_workdir():
  result = subprocess.run([sys.executable, "-m", "launch.main", "--config=configs/kmeans_digits.py",
                           "--mode=predict", "--help"], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 0, result.stderr
  assert "--mode=predict of workload 'kmeans'" in result.stdout and "--input: a file, a folder or a .npy batch" in result.stdout
