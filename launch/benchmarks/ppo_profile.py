r"""Where the time of one PPO update goes: each phase jitted alone on the update's own shapes.

  python -m launch.benchmark ppo_profile                       # CartPole, 1 and 16 agents
  python -m launch.benchmark ppo_profile --seeds=16 --calls=50 --config.rl.rollout_unroll=4

Phases of `ppo.update_agent`, vmapped over the agents as the workload runs them, each
compiled apart and timed over --calls calls (median, after one untimed call):
  rollout   `collect_rollout`: rl.num_steps env steps with the policy's forward pass;
  targets   `update_data`: the critic over the whole rollout, GAE, the flat batch;
  gae       `gae_advantages` alone on the rollout's shapes;
  epochs    `train_epochs`: update_epochs x num_minibatches gradient steps with the shuffles;
  shuffle   the epochs' permutations and gathers alone;
  minibatch one `minibatch_update` alone (times epochs x minibatches = what they would cost
            one by one);
  update    the whole `update_agent`, one call per update;
  dispatch  the trainer's own train function over all updates of the run in one dispatch,
            per update (what the PPO benchmark times; median of 3 calls after one).
The phases overlap only in `update`; their sum against it shows what fusing them gains.
XLA:CPU runs one phase per call; inside the update's scan the same code runs without the
call's overhead (~0.1 ms), which `dispatch` shows.
"""
import ast
import statistics
import tempfile

from absl import flags

from bigmodel_jax.config.validate import check_config
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads import get_workload
from launch import config_errors
from launch.benchmarks import harness

_CONFIG = harness.config_flag("configs/ppo_cartpole.py", "The PPO config whose update is profiled")
_SEEDS = flags.DEFINE_list("seeds", ["1", "16"], "Numbers of agents, one profile each.")
_CALLS = flags.DEFINE_integer("calls", 30, "Timed calls of each phase (median).")
_VARIANTS = flags.DEFINE_multi_string("variant", [], "A variant profiled after the config as given, in the "
                                      "same run: space-separated key=value overrides, e.g. "
                                      "'rl.rollout_unroll=4 rl.epoch_unroll=2'; repeat the flag for more.")


def median_call_seconds(fn, args, calls: int) -> float:
  """Median wall seconds of `calls` calls of the compiled `fn`, after one untimed call."""
  import jax
  jax.block_until_ready(fn(*args))
  times = []
  for _ in range(calls):
    with harness.Stopwatch() as watch:
      jax.block_until_ready(fn(*args))
    times.append(watch.seconds)
  return statistics.median(times)


def dispatch_seconds(compiled, args, calls: int) -> float:
  """Median wall seconds of the trainer's train function, each call continuing from the state the
  last one returned (it donates its state), after one untimed call."""
  import jax
  state, rest = args[0], args[1:]
  times = []
  for i in range(calls + 1):
    with harness.Stopwatch() as watch:
      state = jax.block_until_ready(compiled(state, *rest)[0])
    times.append(watch.seconds)
  return statistics.median(times[1:])


def phase_functions(config, spec):
  """name -> (function of (agents, keys), what it computes), each vmapped over the agents."""
  import functools
  import jax
  from bigmodel_jax.workloads.rl import ppo
  from bigmodel_jax.workloads.rl.workload import over_agents
  bind = lambda f: functools.partial(f, config=config, spec=spec)
  rl = config.rl
  vmap = lambda f: over_agents(f, config)

  def rollout(agents, keys):
    return vmap(bind(ppo.collect_rollout))(agents, keys)

  def targets(agents, rollouts):
    return vmap(lambda a, r: bind(ppo.update_data)(a, a, r))(agents, rollouts)

  def gae(rollouts):
    values = rollouts["reward"] * 0.5
    return vmap(lambda r, v: ppo.gae_advantages(r["reward"], v, v, r["terminated"], r["truncated"],
                                                    rl.gamma, rl.gae_lambda))(rollouts, values)

  def epochs(agents, data, keys):
    return vmap(lambda a, d, k: bind(ppo.train_epochs)(a["params"], a["opt_state"], d, k))(agents, data, keys)

  def shuffle(data, keys):
    def orders(d, k):
      n = d["action"].shape[0]
      return jax.lax.map(lambda key: jax.tree.map(lambda x: x[jax.random.permutation(key, n)], d),
                         jax.random.split(k, rl.update_epochs))
    return vmap(orders)(data, keys)

  def minibatch(agents, data):
    size = data["action"].shape[1] // rl.num_minibatches
    first = jax.tree.map(lambda x: x[:, :size], data)
    return vmap(lambda a, d: bind(ppo.minibatch_update)(a["params"], a["opt_state"], d))(agents, first)

  def update(agents):
    return vmap(bind(ppo.update_agent))(agents)

  return {"rollout": rollout, "targets": targets, "gae": gae, "epochs": epochs, "shuffle": shuffle, "minibatch": minibatch,
          "update": update}


def profile(config, num_seeds: int, calls: int) -> dict:
  """Median seconds per call of each phase, and of one update inside the trainer's dispatch."""
  import jax
  import jax.numpy as jnp
  from bigmodel_jax.engine import trainer
  from launch.benchmarks.ppo_agents import set_agents
  set_agents(config, num_seeds, 1)
  with tempfile.TemporaryDirectory() as workdir:
    run, state = trainer.build_run(config, workdir)
    run.checkpointer.close()
  agents = jax.tree.map(lambda x: getattr(x, "value", x), state, is_leaf=lambda x: hasattr(x, "value"))
  fns = {name: jax.jit(f) for name, f in phase_functions(config, run.data.spec).items()}
  keys = jax.random.split(jax.random.PRNGKey(1), num_seeds)
  _, rollouts = fns["rollout"](agents, keys)
  data = fns["targets"](agents, rollouts)
  args = {"rollout": (agents, keys), "targets": (agents, rollouts), "gae": (rollouts,),
          "epochs": (agents, data, keys), "shuffle": (data, keys), "minibatch": (agents, data), "update": (agents,)}
  seconds = {name: median_call_seconds(fns[name], args[name], calls) for name in fns}
  dispatch_args = (state, {}, run.device_data, jax.random.PRNGKey(0), jnp.asarray(0, jnp.int32))
  compiled, _ = harness.compile_ahead(run.train_fn, *dispatch_args)
  seconds["dispatch"] = dispatch_seconds(compiled, dispatch_args, 3) / run.num_steps
  steps = config.rl.update_epochs * config.rl.num_minibatches
  return {"seeds": num_seeds, "updates": run.num_steps, "minibatch_steps": steps, "ms": {k: 1e3 * v for k, v in seconds.items()}}


def profile_lines(r: dict) -> list:
  ms, whole = r["ms"], r["ms"]["update"]
  share = lambda v: f"{100 * v / whole:5.1f}% of update"
  lines = [f"{r['seeds']} agents, ms per call (median):"]
  for name in ("rollout", "targets", "gae", "epochs", "shuffle"):
    lines.append(f"  {name:<10} {ms[name]:8.3f}  {share(ms[name])}")
  lines.append(f"  {'minibatch':<10} {ms['minibatch']:8.3f}  (x{r['minibatch_steps']} = "
               f"{r['minibatch_steps'] * ms['minibatch']:.3f} if called one by one)")
  parts = ms["rollout"] + ms["targets"] + ms["epochs"]
  lines.append(f"  {'update':<10} {whole:8.3f}  (rollout + targets + epochs = {parts:.3f})")
  lines.append(f"  {'dispatch':<10} {ms['dispatch']:8.3f}  per update, {r['updates']} updates in one call")
  return lines


def variant_config(config, overrides: str):
  """A copy of `config` with the variant's `key=value` overrides (values as Python literals)."""
  config = config.copy_and_resolve_references()
  for item in overrides.split():
    key, _, text = item.partition("=")
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      value = text
    try:
      section, name = key.split(".")
      config[section][name] = value
    except (ValueError, KeyError, AttributeError, TypeError) as e:
      config_errors.fail(f"--variant={overrides!r}: cannot set {key}={text} ({e})")
  try:
    check_config(config, get_workload(config.workload))
  except ConfigError as e:   # A value the config's checks refuse.
    config_errors.fail(f"--variant={overrides!r}: {e}")
  return config


def run(argv):
  del argv
  config = harness.loaded_config(_CONFIG)
  variants = [(o, variant_config(config, o)) for o in ["", *_VARIANTS.value]]   # Bad ones fail before any run.
  report = harness.Report("ppo_profile", config)
  for seeds in map(int, _SEEDS.value):
    for overrides, variant in variants:
      r = {"variant": overrides or "as configured", **profile(variant.copy_and_resolve_references(), seeds,
                                                               _CALLS.value)}
      report.row(r, "\n".join([f"-- {r['variant']}", *profile_lines(r)]))
  report.finish()
