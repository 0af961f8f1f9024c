r"""PPO throughput on CartPole-v1 with the well-known pure-JAX PPO's settings, 1 and 16 seeds.

  python -m launch.benchmark ppo                       # 1 and 16 seeds, plus the machine-speed line
  python -m launch.benchmark ppo --seeds=1,16,64 --skip_machine_line
  python -m launch.benchmark ppo --seeds=16 --devices=2   # agents split over 2 CPU devices (threads)

Settings of --config (`configs/ppo_cartpole.py`: 4 envs x 128 steps, 4 epochs x 4
minibatches, 64-64 tanh MLP, 5e5 env steps per agent = 976 updates), all updates in ONE
jitted dispatch of the trainer's own train function (`train.steps_per_dispatch` = the
number of updates), on one device. Compilation and the run are timed apart; the run's
CPU time is printed too (on a machine shared with other jobs it is closer to the idle
wall time).

With --reference_dir (a purejaxrl checkout) the peer's own `ppo.py` trains the same
settings in the same run (`purejaxrl.py`: loaded unedited, gymnax 1.0's step adapted),
the two sides taking turns --repeats times; both numbers, the ratio of env steps/s and
the final returns are printed. Without it, the scikit-learn K-Means line
(`sklearn_kmeans.py`, shared/BENCHMARKS.md) places this machine against the reference's
published figures (machine A: 1 seed 2.2 s, 16 seeds 25 s; machine B: 4.1 s, 65.7 s).

  python -m launch.benchmark ppo --reference_dir=<purejaxrl checkout> --skip_machine_line --repeats=2
"""
import statistics
import os
import tempfile

from absl import flags

from launch.benchmarks import harness, purejaxrl, sklearn_kmeans
from launch.benchmarks.ppo_agents import set_agents

_CONFIG = harness.config_flag("configs/ppo_cartpole.py", "The PPO config whose settings are timed")
_SEEDS = flags.DEFINE_list("seeds", ["1", "16"], "Numbers of agents trained in one call, one timed run each.")
_DEVICES = flags.DEFINE_integer("devices", 1, "CPU devices (one thread each); > 1 splits the agents "
                                "over them (mesh.rules seed -> data).")
_REFERENCE_DIR = flags.DEFINE_string("reference_dir", "", "A purejaxrl checkout: its ppo.py trains the same "
                                     "settings beside ours (empty = ours only).")
_REPEATS = harness.repeats_flag()
_SKIP_MACHINE = flags.DEFINE_bool("skip_machine_line", False, "Skip the scikit-learn K-Means reference line.")


def use_cpu_devices(count: int) -> None:
  """Splits the host CPU into `count` devices; before JAX starts its CPU backend."""
  if count > 1:
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                               f" --xla_force_host_platform_device_count={count}").strip()


def time_ppo(config, num_seeds: int, devices: int) -> dict:
  """Compile seconds, run seconds (wall and CPU), env steps/s and final returns of `num_seeds` agents."""
  import jax
  import jax.numpy as jnp
  import numpy as np

  from bigmodel_jax.engine import parallel, trainer
  set_agents(config, num_seeds, devices)
  with tempfile.TemporaryDirectory() as workdir:
    run, state = trainer.build_run(config, workdir)
    run.checkpointer.close()
  args = (state, {}, run.device_data, jax.random.PRNGKey(0), jnp.asarray(0, jnp.int32))
  with parallel.mesh_context(run.mesh, config.mesh):
    compiled, compile_s = harness.compile_ahead(run.train_fn, *args)
    jax.block_until_ready(args[0])
    with harness.Stopwatch() as watch:
      _, metrics, _ = compiled(*args)
      returns = np.asarray(jax.device_get(metrics["episode_return"]))   # [updates, seeds]; waits.
  _, env_steps_per_update = run.workload.throughput(config, run.data.spec)
  return {"seeds": num_seeds, "devices": config.mesh.data, "updates": run.num_steps, "compile_s": compile_s,
          "run_s": watch.seconds, "run_cpu_s": watch.cpu_seconds,
          "env_steps_per_s": run.num_steps * env_steps_per_update / watch.seconds,
          "final_return_mean": float(returns[-1].mean()), "final_return_min": float(returns[-1].min())}


def result_line(r: dict) -> str:
  return (f"seeds={r['seeds']:3d} devices={r['devices']}  compile {r['compile_s']:5.1f} s  run {r['run_s']:6.2f} s "
          f"(CPU time {r['run_cpu_s']:6.2f} s)  {r['env_steps_per_s'] / 1e3:7.1f}k env steps/s  "
          f"final return mean {r['final_return_mean']:.1f} (min {r['final_return_min']:.1f})")


def run(argv):
  del argv
  use_cpu_devices(_DEVICES.value)
  config = harness.loaded_config(_CONFIG)
  report = harness.Report("ppo", config)
  if not _SKIP_MACHINE.value:
    speed = sklearn_kmeans.machine_speed()
    report.note("machine_speed", speed, sklearn_kmeans.machine_speed_line(speed))
  peer = purejaxrl.load_ppo(_REFERENCE_DIR.value) if _REFERENCE_DIR.value else None
  for seeds in map(int, _SEEDS.value):
    sides = {"ours": lambda: time_ppo(config.copy_and_resolve_references(), seeds, _DEVICES.value)}
    if peer is not None:
      sides["purejaxrl"] = lambda: purejaxrl.time_train(peer, config, seeds)
    results = {}
    for _, side, r in harness.take_turns(sides, _REPEATS.value):
      report.row({"side": side, **r}, f"{side:>9}: " + result_line(r))
      results.setdefault(side, []).append(r)
    if peer is not None:
      compare_sides(report, seeds, results)
  report.finish()


def compare_sides(report, seeds: int, results: dict) -> None:
  """Median env steps/s of each side over the rounds, their ratio, and the final returns."""
  median = lambda side, key: statistics.median(r[key] for r in results[side])
  report.compare(f"{seeds} agents, env steps/s", ("ours", median("ours", "env_steps_per_s")),
                 ("purejaxrl", median("purejaxrl", "env_steps_per_s")), "steps/s", lower_is_better=False)
  report.note(f"final_return_{seeds}", {s: median(s, "final_return_mean") for s in results},
              f"{seeds} agents, final return (mean over agents, median over rounds): "
              f"ours {median('ours', 'final_return_mean'):.1f}, purejaxrl {median('purejaxrl', 'final_return_mean'):.1f}")
