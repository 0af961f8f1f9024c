"""The benchmarks' peers run from a user's checkout: purejaxrl's ppo.py, nanoGPT's train.py; K-Means's floor.

Stand-in checkouts (a few lines written here, with the peers' file names and entry points)
show that the adapters load and run the code unedited; the real checkouts are used when
by the benchmarks themselves (--reference_dir, --nanogpt_dir), not by these tests.
"""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from bigmodel_jax.errors import ConfigError
from conftest import REPO, make_config
from launch.benchmarks import kmeans_floor
from launch.benchmarks import nanogpt, purejaxrl

# A purejaxrl-shaped checkout: wrappers.py imports brax and navix (not installed), ppo.py
# calls gymnax.make and unpacks five values from step, as the real one does.
STAND_IN_WRAPPERS = """
from brax import envs
from brax.envs.wrappers.training import EpisodeWrapper, AutoResetWrapper
import navix as nx
"""
STAND_IN_PPO = """
import jax, jax.numpy as jnp
import gymnax
from wrappers import EpisodeWrapper

def make_train(config):
  env, params = gymnax.make(config["ENV_NAME"])
  config["NUM_UPDATES"] = int(config["TOTAL_TIMESTEPS"] // config["NUM_STEPS"] // config["NUM_ENVS"])
  def train(rng):
    obs, state = env.reset(rng, params)
    def step(carry, _):
      state, rng = carry
      rng, key = jax.random.split(rng)
      obs, state, reward, done, info = env.step(key, state, 0, params)
      return (state, rng), reward
    _, rewards = jax.lax.scan(step, (state, rng), None, config["NUM_UPDATES"] * config["NUM_STEPS"])
    r = rewards.reshape(config["NUM_UPDATES"], config["NUM_STEPS"], 1) * jnp.ones(config["NUM_ENVS"])
    return {"metrics": {"returned_episode_returns": r}}
  return train
"""


@pytest.fixture
def purejaxrl_checkout(tmp_path):
  folder = tmp_path / "purejaxrl" / "purejaxrl"
  folder.mkdir(parents=True)
  (folder / "wrappers.py").write_text(STAND_IN_WRAPPERS)
  (folder / "ppo.py").write_text(STAND_IN_PPO)
  return str(tmp_path / "purejaxrl")


def test_gymnax_steps_fold_terminated_and_truncated_into_done():
  import gymnax
  import jax
  env, params = gymnax.make("CartPole-v1")
  wrapped = purejaxrl.FiveValueStep(env)
  key = jax.random.PRNGKey(0)
  _, state = wrapped.reset(key, params)
  truncating = state.replace(time=params.max_steps_in_episode)   # The next step hits the time limit.
  out = wrapped.step(key, truncating, 0, params)
  assert len(out) == 5 and bool(out[3])
  assert wrapped.num_actions == env.num_actions   # Everything else passes through.


def test_the_peer_loads_unedited_with_stand_ins_for_unused_imports(purejaxrl_checkout):
  before = open(os.path.join(purejaxrl_checkout, "purejaxrl", "ppo.py")).read()
  module = purejaxrl.load_ppo(purejaxrl_checkout)
  assert "brax" not in sys.modules and "navix" not in sys.modules   # The stand-ins are gone again.
  config = make_config("ppo_cartpole")
  r = purejaxrl.time_train(module, config, 2)
  assert r["seeds"] == 2 and r["env_steps_per_s"] > 0 and r["final_return_mean"] == pytest.approx(1.0)
  assert open(os.path.join(purejaxrl_checkout, "purejaxrl", "ppo.py")).read() == before


def test_a_folder_without_ppo_py_is_a_config_error(tmp_path):
  with pytest.raises(ConfigError, match="--reference_dir=.*no purejaxrl/ppo.py"):
    purejaxrl.load_ppo(str(tmp_path))


def test_peer_settings_follow_our_config():
  config = make_config("ppo_cartpole", None, **{"rl.num_envs": 8, "optimizer.learning_rate": 1e-3})
  peer = purejaxrl.settings(config)
  assert peer["NUM_ENVS"] == 8 and peer["LR"] == 1e-3 and peer["TOTAL_TIMESTEPS"] == 500_000
  assert peer["NUM_MINIBATCHES"] == 4 and peer["MAX_GRAD_NORM"] == 0.5 and not peer["DEBUG"]


def test_nanogpt_data_set_round_trips_the_corpus(tmp_path):
  corpus = tmp_path / "corpus.txt"
  corpus.write_text("abcabcabcz")
  assert nanogpt.write_dataset(str(corpus), str(tmp_path)) == 4
  folder = tmp_path / "data" / nanogpt.DATASET
  meta = pickle.load(open(folder / "meta.pkl", "rb"))
  ids = np.concatenate([np.fromfile(folder / f, dtype=np.uint16) for f in ("train.bin", "val.bin")])
  assert "".join(meta["itos"][i] for i in ids) == "abcabcabcz" and len(np.fromfile(folder / "val.bin", np.uint16)) == 1


def test_nanogpt_log_gives_tokens_per_second_without_the_evaluating_steps():
  log = ("step 0: train loss 4.4, val loss 4.5\niter 0: loss 4.4, time 900.00ms, mfu -100.00%\n"
         "iter 1: loss 4.0, time 10.00ms, mfu 1.00%\niter 2: loss 3.9, time 30.00ms, mfu 1.00%\n"
         "iter 3: loss 3.8, time 20.00ms, mfu 1.00%\nstep 4: train loss 3.5, val loss 3.25\n"
         "iter 4: loss 3.5, time 800.00ms, mfu 1.00%\n")
  r = nanogpt.parse_log(log, batch=12, context=64, last_step=4)
  assert r["median_step_ms"] == 20.0 and r["tokens_per_sec"] == pytest.approx(12 * 64 / 0.02)
  assert r["val_loss"] == 3.25
  with pytest.raises(RuntimeError, match="no validation loss"):
    nanogpt.parse_log(log, batch=12, context=64, last_step=5)


def test_nanogpt_arguments_carry_our_shape():
  config = make_config("lm_shakespeare_char", "bench")
  args = nanogpt.arguments(config, "/tmp/out")
  for want in ("--n_layer=4", "--n_head=4", "--n_embd=128", "--block_size=64", "--batch_size=12",
               "--max_iters=300", "--dropout=0.0", "--device=cpu", "--decay_lr=False"):
    assert want in args, want


def test_nanogpt_without_a_checkout_is_a_config_error(tmp_path):
  with pytest.raises(ConfigError, match="--nanogpt_dir=.*no train.py"):
    nanogpt.check_checkout(str(tmp_path))


def test_kmeans_floor_is_the_larger_of_read_and_matmul_time():
  x = np.random.default_rng(0).random((4096, 64), dtype=np.float32)
  floor = kmeans_floor.iteration_floor(x, 10)
  assert floor["read_s"] > 0 and floor["matmul_gflop_per_s"] > 0
  assert floor["floor_s"] == max(floor["read_s"], floor["matmul_s"])
  assert floor["matmul_s"] == pytest.approx(4 * 4096 * 64 * 10 / (floor["matmul_gflop_per_s"] * 1e9))


def test_per_iteration_divides_the_fit_by_its_iterations():
  assert kmeans_floor.per_iteration({"fit_s": 2.0, "n_iter": 8}) == 0.25
  assert kmeans_floor.per_iteration({"fit_s": 2.0, "n_iter": 0}) == 2.0


@pytest.mark.slow
def test_ppo_benchmark_runs_beside_a_purejaxrl_checkout(purejaxrl_checkout, tmp_path):
  env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
  result = subprocess.run([sys.executable, "-m", "launch.benchmark", "ppo", "--config=configs/ppo_cartpole.py:tiny",
                           "--seeds=1", "--skip_machine_line", f"--reference_dir={purejaxrl_checkout}"],
                          cwd=REPO, env=dict(env, JAX_PLATFORMS="cpu"), capture_output=True, text=True, timeout=240)
  assert result.returncode == 0, result.stderr[-3000:]
  assert "1 agents, env steps/s: ours" in result.stdout and "purejaxrl:" in result.stdout
  assert "load average" in result.stdout.splitlines()[-1]
