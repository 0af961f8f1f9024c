r"""PPO throughput on CartPole-v1 with the well-known pure-JAX PPO's settings, 1 and 16 seeds.

  python -m launch.benchmark_ppo                      # 1 and 16 seeds, plus the machine-speed line
  python -m launch.benchmark_ppo --seeds=1,16,64 --skip_machine_line
  python -m launch.benchmark_ppo --seeds=16 --devices=2  # agents split over 2 CPU devices (threads)

Settings of `configs/ppo_cartpole.py` (4 envs x 128 steps, 4 epochs x 4 minibatches,
64-64 tanh MLP, 5e5 env steps per agent = 976 updates), all updates in ONE jitted
dispatch of the trainer's own train function (`train.steps_per_dispatch` = 976), on
one device. Compilation and the run are timed apart; the run's CPU time is printed too
(on a machine shared with other jobs it is closer to the idle wall time). The reference system is not a
Python package here, so it cannot be timed in the same run: the scikit-learn K-Means
line (shared/BENCHMARKS.md) places this machine against the reference's published
figures (machine A: 1 seed 2.2 s, 16 seeds 25 s; machine B: 4.1 s, 65.7 s).
"""
import os
import statistics
import time

from absl import app, flags, logging

from launch import xla_flags

_SEEDS = flags.DEFINE_string("seeds", "1,16", "Comma-separated numbers of agents trained in one call.")
_CONFIG = flags.DEFINE_string("config", "configs/ppo_cartpole.py", "The PPO config whose settings are timed.")
_DEVICES = flags.DEFINE_integer("devices", 1, "CPU devices (one thread each); > 1 splits the agents "
                                "over them (mesh.rules seed -> data).")
_SKIP_MACHINE = flags.DEFINE_bool("skip_machine_line", False, "Skip the scikit-learn K-Means reference line.")


def load_config(path: str):
  import importlib.util
  spec = importlib.util.spec_from_file_location("bench_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config()


def time_ppo(path: str, num_seeds: int, workdir: str, devices: int = 1) -> dict:
  """Compile seconds, run seconds, env steps/s and the final mean return of `num_seeds` agents."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from bigmodel_jax.engine import parallel, trainer
  config = load_config(path)
  config.rl.num_seeds = num_seeds
  config.mesh.data = devices if num_seeds % devices == 0 else 1
  if config.mesh.data > 1:
    config.mesh.param_sharding, config.mesh.rules = "logical", (("seed", "data"),)
  run, state = trainer.build_run(config, workdir)
  run.checkpointer.close()
  config.train.steps_per_dispatch = run.num_steps   # Every update in one dispatch.
  config.train.log_every_steps = run.num_steps
  run, state = trainer.build_run(config, workdir)
  run.checkpointer.close()
  args = (state, {}, run.device_data, jax.random.PRNGKey(0), jnp.asarray(0, jnp.int32))
  with parallel.mesh_context(run.mesh, config.mesh):
    start = time.perf_counter()
    compiled = run.train_fn.lower(*args).compile()
    compile_s = time.perf_counter() - start
    jax.block_until_ready(args[0])
    start, cpu_start = time.perf_counter(), time.process_time()
    state, metrics, _ = compiled(*args)
    returns = np.asarray(jax.device_get(metrics["episode_return"]))   # [updates, seeds]; waits.
    run_s, run_cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
  env_steps = run.num_steps * num_seeds * config.train.batch_size * config.rl.num_steps
  return {"seeds": num_seeds, "devices": config.mesh.data, "compile_s": compile_s, "run_s": run_s, "run_cpu_s": run_cpu_s, "env_steps_per_s": env_steps / run_s,
          "final_return_mean": float(returns[-1].mean()), "final_return_min": float(returns[-1].min())}


def machine_line() -> str:
  """scikit-learn KMeans(10, k-means++, n_init=1) on Fashion-MNIST train, median of 3 fits."""
  import numpy as np
  from sklearn.cluster import KMeans

  from bigmodel_jax.data import idx
  path = os.path.join("data", "fashion_mnist", "train-images-idx3-ubyte.gz")
  if not os.path.exists(path):
    return "machine line skipped: data/fashion_mnist missing (python -m launch.fetch_data)"
  x = idx.read_idx(path).reshape(60000, -1).astype(np.float32)
  times = []
  for seed in (0, 1, 2):
    start = time.perf_counter()
    KMeans(10, n_init=1, init="k-means++", random_state=seed).fit(x)
    times.append(time.perf_counter() - start)
  return (f"machine: scikit-learn KMeans fit median {statistics.median(times):.2f} s "
          f"(machine A 1.6 s, machine B 3.09 s)")


def main(argv):
  del argv
  logging.set_verbosity(logging.WARNING)   # Orbax logs every checkpoint object at INFO.
  if _DEVICES.value > 1:   # Before JAX starts its CPU backend.
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={_DEVICES.value}").strip()
  xla_flags.set_defaults()
  import tempfile
  if not _SKIP_MACHINE.value:
    print(machine_line(), flush=True)
  for seeds in (int(s) for s in _SEEDS.value.split(",")):
    with tempfile.TemporaryDirectory() as workdir:
      r = time_ppo(_CONFIG.value, seeds, workdir, _DEVICES.value)
    print(f"seeds={r['seeds']:3d} devices={r['devices']}  compile {r['compile_s']:5.1f} s  run {r['run_s']:6.2f} s "
          f"(CPU time {r['run_cpu_s']:6.2f} s)  "
          f"{r['env_steps_per_s'] / 1e3:7.1f}k env steps/s  final return mean {r['final_return_mean']:.1f} "
          f"(min {r['final_return_min']:.1f})", flush=True)


if __name__ == "__main__":
  app.run(main)
