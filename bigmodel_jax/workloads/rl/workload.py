"""Reinforcement learning on gymnax environments: PPO and REINFORCE, many seeds at once.

One trainer step is one update of every agent: a rollout of `rl.num_steps` steps in
`rl.num_envs` environments (a `lax.scan`), values of the whole rollout in one
batched critic call, GAE, then `rl.update_epochs` x `rl.num_minibatches` gradient
steps (nested `lax.scan`s). `rl.num_seeds` independent agents (seeds `seed`,
`seed + 1`, ...) are trained together by `jax.vmap`; every agent carries its own
random key in the state, so agent i learns the same whether it is trained alone or
beside others, and a resumed run continues bit for bit. The trainer's per-step key
is not used. `train.steps_per_dispatch` updates run as one dispatch.

REINFORCE (`rl.algorithm="reinforce"`) is the same update with Monte-Carlo returns
(lambda = 1), an optional value baseline and no clipping.

gymnax 1.0 reports `terminated` and `truncated` apart: a terminated step has no
future value, a truncated one (time limit) bootstraps from the value of its final
observation (`info["final_observation"]`; the returned observation is already the
next episode's first).
"""
import dataclasses
import functools
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.engine import evaluation
from bigmodel_jax.engine.metric_writer import read_metrics
from bigmodel_jax.workloads.base import Mode, ModeFlag, Report, Workload, with_common
from bigmodel_jax.workloads.rl import ppo
from bigmodel_jax.workloads.rl.env import EPISODES, EpisodeData, check_env_name, env_action, env_spec, make_env

ALGORITHMS = ("ppo", "reinforce")

ENV_SECTION = dict(
    name=("CartPole-v1", check_env_name),    # A gymnax environment id (gymnax.registered_envs).
)

# PPO's usual optimizer: Adam 2.5e-4 (eps 1e-5) annealed linearly to 0, gradient norm clipped at 0.5.
OPTIMIZER_SECTION = sections.with_defaults(sections.OPTIMIZER, learning_rate=2.5e-4, eps=1e-5, schedule="linear",
                                           grad_clip_norm=0.5)
# An evaluation call runs this many episodes of every agent.
EVAL_SECTION = sections.with_defaults(sections.EVAL, batch_size=16)

RL_SECTION = dict(
    algorithm=("ppo", v.one_of(*ALGORITHMS)),   # ppo | reinforce (Monte-Carlo returns, no clipping).
    num_seeds=(1, v.POSITIVE_INT),           # Independent agents trained together (vmap); agent i uses seed + i.
    num_envs=(4, v.POSITIVE_INT),            # Environments per agent, stepped together.
    total_env_steps=(500_000, v.POSITIVE_INT),  # Per agent; updates = this // (num_envs x num_steps).
    num_steps=(128, v.POSITIVE_INT),         # Rollout length per environment and update.
    update_epochs=(4, v.POSITIVE_INT),       # Passes over each rollout.
    num_minibatches=(4, v.POSITIVE_INT),     # Minibatches per pass; must divide num_envs x num_steps.
    gamma=(0.99, v.FRACTION),                # Discount.
    gae_lambda=(0.95, v.FRACTION),           # GAE lambda (REINFORCE uses 1).
    clip_eps=(0.2, v.POSITIVE),              # PPO ratio clip (and value clip).
    vf_coef=(0.5, v.NON_NEGATIVE),           # Value-loss weight.
    ent_coef=(0.01, v.NON_NEGATIVE),         # Entropy bonus weight.
    clip_value=(True, v.BOOL),               # Clip the value update around the rollout's values.
    normalize_advantages=(True, v.BOOL),     # Per minibatch.
    value_baseline=(True, v.BOOL),           # Train a critic and subtract it (off: REINFORCE without baseline).
    normalize_obs=(False, v.BOOL),           # Running mean / std of observations.
    scale_rewards=(False, v.BOOL),           # Divide rewards by the running std of the discounted return.
    eval_episodes=(16, v.POSITIVE_INT),      # Episodes per agent at the end and in --mode=eval (--num_episodes).
    # Speed only (XLA:CPU; measured in WORKSPACE.md's performance notes); results equal up to float rounding.
    rollout_unroll=(1, v.POSITIVE_INT),      # Rollout steps per trip of its scan (fewer loop trips, bigger code).
    epoch_unroll=(1, v.POSITIVE_INT),        # Minibatch steps per trip of each epoch's scan.
    fused_shuffle=(False, v.BOOL),           # Every epoch's shuffle before the first epoch, in one sort and gather.
    values_in_rollout=(False, v.BOOL),       # Critic beside the actor at each rollout step, not one pass afterwards.
    vmap_one_agent=(True, v.BOOL),           # False: one agent runs without the vmap's seed axis of size 1.
)


def make_data(config, mesh) -> EpisodeData:
  del mesh   # Environments are split over the devices by the state's layout (`_logical_axes`).
  return EpisodeData(env_spec(config), config.rl.eval_episodes)


def num_train_steps(config, spec) -> int:
  del config
  return spec.num_updates


def seed_keys(config):
  return jnp.stack([jax.random.PRNGKey(config.seed + i) for i in range(config.rl.num_seeds)])


# State fields with an environment axis after the seed axis: [seeds, envs, ...].
ENV_FIELDS = ("env_state", "obs", "episode_return", "last_return", "discounted")


def _logical_axes(state):
  """Names the seed axis ("seed") and the environment axis ("env") of every array, so that
  `mesh.param_sharding="logical"` with `mesh.rules=(("env", "data"),)` (or ("seed", "data"))
  splits the environments (or the agents) over the devices; other strategies ignore them."""
  def box(path, x):
    env = path[0].key in ENV_FIELDS
    names = ("seed", "env") if env else ("seed",)
    return nn.LogicallyPartitioned(x, names + (None,) * (x.ndim - len(names)))
  return jax.tree_util.tree_map_with_path(box, state)


def init_state(rng, device_data, *, config, spec):
  """Agents of seeds seed .. seed + num_seeds - 1, stacked on a leading seed axis.

  `lax.map`, not `vmap`: a vmapped orthogonal initialiser hung XLA:CPU with 8 devices.
  """
  del rng, device_data   # Each agent's key comes from its own seed.
  return _logical_axes(jax.lax.map(functools.partial(ppo.init_agent, config=config, spec=spec), seed_keys(config)))


def over_agents(fn, config):
  """`fn` of one agent applied to every agent on the leading seed axis: vmapped, or with one
  agent and `rl.vmap_one_agent=False`, called on that agent alone (no batch axis of size 1)."""
  if config.rl.num_seeds == 1 and not config.rl.vmap_one_agent:
    return lambda *args: jax.tree.map(lambda x: x[None], fn(*jax.tree.map(lambda x: x[0], args)))
  return jax.vmap(fn)


def train_step(state, batch, rng, *, config, spec):
  del batch, rng   # No host data; every agent draws from its own key.
  return over_agents(functools.partial(ppo.update_agent, config=config, spec=spec), config)(state)


# ---------------------------------------------------------------- evaluation


def run_episode(agent, key, *, greedy: bool, config, spec):
  """Return of one episode (up to the environment's time limit) of one agent."""
  env, env_params = make_env(spec.env_name)
  model = ppo.agent_model(config, spec)
  reset_key, key = jax.random.split(key)
  obs, env_state = env.reset(reset_key, env_params)

  def step(carry, step_key):
    obs, env_state, total, done = carry
    act_key, env_key = jax.random.split(step_key)
    inputs = ppo.normalize_obs(obs, agent["obs_stats"], config.rl.normalize_obs)[None]
    out, log_std = model.apply({"params": agent["params"]}, inputs, method="actor")
    if greedy:
      action = ppo.greedy_action(out, spec.continuous)
    else:
      action = ppo.sample_action(act_key, out, log_std, spec.continuous)[0]
    obs, env_state, reward, terminated, truncated, _ = env.step(env_key, env_state, env_action(action[0], spec),
                                                                env_params)
    total = total + jnp.where(done, 0.0, reward)
    return (obs, env_state, total, done | terminated | truncated), None

  carry = (obs, env_state, jnp.zeros(()), jnp.zeros((), bool))
  (_, _, total, _), _ = jax.lax.scan(step, carry, jax.random.split(key, spec.max_episode_steps))
  return total


def eval_step(state, batch, rng, *, config, spec) -> dict:
  """Greedy and sampled returns, [episodes, seeds], of the batch's episode numbers."""
  agent = {"params": state["params"], "obs_stats": state["obs_stats"]}

  def episodes(greedy):
    def one(episode, seed_index, agent):
      key = jax.random.fold_in(jax.random.fold_in(rng, episode), seed_index)
      return run_episode(agent, key, greedy=greedy, config=config, spec=spec)
    seeds = jnp.arange(config.rl.num_seeds)
    per_seed = jax.vmap(one, in_axes=(None, 0, 0))
    return jax.vmap(per_seed, in_axes=(0, None, None))(batch["episode"], seeds, agent)

  return {"greedy_return": episodes(True), "sampled_return": episodes(False)}


def summarize(outputs, *, config, data) -> dict:
  del config, data
  if not outputs:
    return {}
  return {f"{kind}_return_mean": float(np.mean(outputs[f"{kind}_return"])) for kind in ("greedy", "sampled")}


def _per_seed(outputs) -> dict:
  return {f"{kind}_return_per_seed": np.mean(outputs[f"{kind}_return"], axis=0).tolist()
          for kind in ("greedy", "sampled") if kind + "_return" in outputs}


def report(run, state, outputs) -> Report:
  """Final training return (mean over seeds and per seed), env steps/s, evaluation returns per seed."""
  final = np.asarray(jax.device_get(state["last_return"])).mean(axis=1)
  rates = [r["train/env_steps_per_sec"] for r in read_metrics(run.workdir) if "train/env_steps_per_sec" in r] \
      if os.path.exists(os.path.join(run.workdir, "metrics.jsonl")) else []
  steady = rates[1:] or rates   # The first window includes compilation.
  return Report(details={"final_return_mean": float(final.mean()), "final_return_per_seed": final.tolist(),
                         "env_steps_per_sec": float(np.median(steady)) if steady else None,
                         **_per_seed(outputs)})


def eval_mode(run, state, options) -> dict:
  """`--mode=eval`: `--num_episodes` greedy and sampled episodes per seed."""
  episodes = options["num_episodes"]
  run = dataclasses.replace(run, data=EpisodeData(run.data.spec, episodes))
  metrics, outputs = evaluation.evaluate(run, state, EPISODES)
  return {"episodes": episodes, **metrics, **_per_seed(outputs)}


def throughput(config, spec):
  del spec
  return "env_steps", config.rl.num_seeds * config.rl.num_envs * config.rl.num_steps


def checkpoint_meta(config) -> dict:
  return {"env.name": config.env.name, "rl.num_seeds": config.rl.num_seeds, "rl.num_envs": config.rl.num_envs}


WORKLOAD = Workload(
    sections=with_common(env=ENV_SECTION, optimizer=OPTIMIZER_SECTION, rl=RL_SECTION, eval=EVAL_SECTION),
    make_data=make_data, num_train_steps=num_train_steps, init_state=init_state, train_step=train_step,
    eval_step=eval_step, summarize=summarize, report=report, eval_splits=(), final_split=EPISODES,
    curve_metrics=("episode_return", "entropy", "approx_kl"), throughput=throughput,
    checkpoint_meta=checkpoint_meta, transfer_fields=("params", "obs_stats"),
    modes={"eval": Mode(eval_mode, "greedy and sampled episodes of every agent of the latest checkpoint",
                        {"num_episodes": ModeFlag(int, "episodes per agent", v.int_in(1, 100_000),
                                                  default_key="rl.eval_episodes")})},
    unused_keys=("train.batch_size", "train.num_epochs", "train.num_steps", "train.ema_decay"))


def tiny(config, total_env_steps: int = 1024, **rl_changes) -> None:
  """The RL configs' `:tiny` (tests, laptops): 2 agents of 8 environments x 32 steps, 2 updates a
  dispatch, 8 evaluation episodes each; `rl_changes` on top."""
  config.rl.update(num_seeds=2, num_envs=8, total_env_steps=total_env_steps, num_steps=32, eval_episodes=8,
                   **rl_changes)
  config.train.update(steps_per_dispatch=2, log_every_steps=2)
  config.eval.batch_size = 8
