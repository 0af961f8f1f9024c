"""Reinforcement learning on gymnax environments: PPO and REINFORCE, many seeds at once.

One trainer step is one update of every agent: a rollout of `rl.num_steps` steps in
`train.batch_size` environments (a `lax.scan`), values of the whole rollout in one
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
import math
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from bigmodel_jax import validation as v
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.metric_writer import read_metrics
from bigmodel_jax.models import build_model
from bigmodel_jax.optim import make_optimizer
from bigmodel_jax.workloads.base import Workload, default_checkpoint_meta



def _gymnax():
  """gymnax, imported on first use: importing it starts JAX's backend, which must wait
  for `jax.distributed.initialize` in a multi-process launch."""
  import gymnax  # pylint: disable=import-outside-toplevel
  return gymnax


def check_env_name(key: str, value) -> None:
  """Config check of `env.name` against gymnax's registered environments (listed on error)."""
  names = list(_gymnax().registered_envs)
  if value not in names:
    raise ConfigError(f"{key}={value!r} is not allowed; expected one of {names}")
ALGORITHMS = ("ppo", "reinforce")
EPISODES = "episodes"   # The evaluation "split": greedy and sampled episodes of the trained policies.


@dataclasses.dataclass(frozen=True)
class EnvSpec:
  env_name: str
  obs_shape: tuple
  num_actions: int          # Discrete actions, or action dimensions of a continuous space.
  continuous: bool
  action_low: float
  action_high: float
  max_episode_steps: int
  num_updates: int


@functools.lru_cache(maxsize=None)
def make_env(name: str):
  """(environment, its default parameters); gymnax environments are stateless objects."""
  return _gymnax().make(name)


class EpisodeData:
  """No host data: evaluation runs `num_episodes` episodes, in batches of episode numbers."""

  def __init__(self, spec: EnvSpec, num_episodes: int):
    self.spec, self.num_episodes = spec, num_episodes

  def eval_batches(self, split: str, batch_size: int):
    del split
    for start in range(0, self.num_episodes, batch_size):
      ids = np.arange(start, start + batch_size, dtype=np.int32)
      yield {"episode": ids, "mask": ids < self.num_episodes}


def make_data(config) -> EpisodeData:
  env, env_params = make_env(config.env.name)
  space = env.action_space(env_params)
  continuous = not isinstance(space, _gymnax().environments.spaces.Discrete)
  if continuous != (config.model.head == "gaussian"):
    raise ConfigError(f"model.head={config.model.head!r} does not fit {config.env.name}'s "
                      f"{'continuous' if continuous else 'discrete'} actions; use "
                      f"{'gaussian' if continuous else 'categorical'}")
  rollout = config.train.batch_size * config.rl.num_steps
  if rollout % config.rl.num_minibatches:
    raise ConfigError(f"train.batch_size x rl.num_steps = {rollout} transitions do not split into "
                      f"rl.num_minibatches={config.rl.num_minibatches} equal minibatches")
  updates = config.rl.total_env_steps // rollout
  if updates < 1:
    raise ConfigError(f"rl.total_env_steps={config.rl.total_env_steps} is less than one rollout ({rollout} steps)")
  obs_shape = tuple(env.observation_space(env_params).shape)
  spec = EnvSpec(config.env.name, obs_shape,
                 int(math.prod(space.shape)) if continuous else int(space.n), continuous,
                 float(np.min(space.low)) if continuous else 0.0,
                 float(np.max(space.high)) if continuous else 0.0,
                 int(env_params.max_steps_in_episode), updates)
  return EpisodeData(spec, config.rl.eval_episodes)


def num_train_steps(config, spec) -> int:
  del config
  return spec.num_updates


def _model(config, spec):
  return build_model(config.model, spec.num_actions)


def _optimizer(config, spec):
  """Per-minibatch optimizer steps, so a schedule anneals over all of them."""
  return make_optimizer(config.optimizer, spec.num_updates * config.rl.update_epochs * config.rl.num_minibatches)


# ---------------------------------------------------------------- policies


def sample_action(key, out, log_std, continuous: bool):
  """(action, its log-probability). Categorical: inverse CDF of one uniform (cheaper than Gumbel)."""
  if continuous:
    action = out + jnp.exp(log_std) * jax.random.normal(key, out.shape)
    return action, gaussian_log_prob(out, log_std, action)
  log_probs = jax.nn.log_softmax(out)
  cdf = jnp.cumsum(jnp.exp(log_probs), axis=-1)
  u = jax.random.uniform(key, out.shape[:-1] + (1,))
  action = jnp.sum(u > cdf[..., :-1], axis=-1)
  return action, jnp.take_along_axis(log_probs, action[..., None], -1)[..., 0]


def greedy_action(out, continuous: bool):
  return out if continuous else jnp.argmax(out, axis=-1)


def gaussian_log_prob(mean, log_std, action):
  z = (action - mean) * jnp.exp(-log_std)
  return jnp.sum(-0.5 * z * z - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)


def log_prob_and_entropy(out, log_std, action, continuous: bool):
  if continuous:
    return gaussian_log_prob(out, log_std, action), jnp.sum(log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e), axis=-1)
  log_probs = jax.nn.log_softmax(out)
  logp = jnp.take_along_axis(log_probs, action[..., None].astype(jnp.int32), -1)[..., 0]
  return logp, -jnp.sum(jnp.exp(log_probs) * log_probs, axis=-1)


def env_action(action, spec: EnvSpec):
  return jnp.clip(action, spec.action_low, spec.action_high) if spec.continuous else action


# ---------------------------------------------------------------- normalisation


def init_running_stats(shape):
  return {"mean": jnp.zeros(shape), "var": jnp.ones(shape), "count": jnp.asarray(1e-4)}


def update_running_stats(stats, x_NxD):
  """Merges the mean and variance of a batch (first axis) into running statistics."""
  n = x_NxD.shape[0]
  mean, var = jnp.mean(x_NxD, 0), jnp.var(x_NxD, 0)
  total = stats["count"] + n
  delta = mean - stats["mean"]
  new_mean = stats["mean"] + delta * n / total
  m2 = stats["var"] * stats["count"] + var * n + delta ** 2 * stats["count"] * n / total
  return {"mean": new_mean, "var": m2 / total, "count": total}


def normalize_obs(obs, stats, enabled: bool):
  if not enabled:
    return obs
  return jnp.clip((obs - stats["mean"]) / jnp.sqrt(stats["var"] + 1e-8), -10.0, 10.0)


# ---------------------------------------------------------------- the update


def gae_advantages(rewards_TxE, values_TxE, next_values_TxE, terminated_TxE, truncated_TxE,
                   gamma: float, lam: float):
  """Generalised advantage estimates and value targets of one rollout.

  `next_values[t]` is the value of the state that follows step t in the same
  episode (at a truncation: the final observation's). A termination has no future
  value; a termination or a truncation ends the sum of discounted TD errors.
  """
  terminated = terminated_TxE.astype(jnp.float32)
  done = jnp.logical_or(terminated_TxE, truncated_TxE).astype(jnp.float32)
  deltas = rewards_TxE + gamma * (1.0 - terminated) * next_values_TxE - values_TxE

  def backwards(next_advantage, x):
    delta, d = x
    advantage = delta + gamma * lam * (1.0 - d) * next_advantage
    return advantage, advantage

  _, advantages = jax.lax.scan(backwards, jnp.zeros_like(values_TxE[0]), (deltas, done), reverse=True)
  return advantages, advantages + values_TxE


def ppo_loss_terms(new_logp, entropy, new_values, batch, *, clip_eps: float, vf_coef: float,
                   ent_coef: float, clip_value: bool, normalize_advantages: bool, clip_policy: bool = True):
  """(total loss, terms) of PPO's clipped surrogate; `clip_policy=False` is REINFORCE's plain
  policy gradient -E[log pi(a|s) A]. `batch` holds the rollout's logp, value, advantage, target."""
  adv = batch["advantage"]
  if normalize_advantages:
    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
  log_ratio = new_logp - batch["logp"]
  ratio = jnp.exp(log_ratio)
  if clip_policy:
    policy_loss = -jnp.mean(jnp.minimum(ratio * adv, jnp.clip(ratio, 1 - clip_eps, 1 + clip_eps) * adv))
  else:
    policy_loss = -jnp.mean(new_logp * adv)
  value_error = jnp.square(new_values - batch["target"])
  if clip_value:
    clipped = batch["value"] + jnp.clip(new_values - batch["value"], -clip_eps, clip_eps)
    value_error = jnp.maximum(value_error, jnp.square(clipped - batch["target"]))
  value_loss = 0.5 * jnp.mean(value_error)
  entropy = jnp.mean(entropy)
  total = policy_loss + vf_coef * value_loss - ent_coef * entropy
  terms = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy,
           "approx_kl": jnp.mean((ratio - 1) - log_ratio),
           "clip_fraction": jnp.mean(jnp.abs(ratio - 1) > clip_eps)}
  return total, terms


def minibatch_update(params, opt_state, minibatch, *, config, spec):
  """One gradient step on one minibatch; returns (params, opt_state, loss terms)."""
  model, tx, rl = _model(config, spec), _optimizer(config, spec), config.rl

  def loss_fn(p):
    (out, log_std), values = model.apply({"params": p}, minibatch["obs"])
    logp, entropy = log_prob_and_entropy(out, log_std, minibatch["action"], spec.continuous)
    if not rl.value_baseline:
      values = jnp.zeros_like(values)
    return ppo_loss_terms(logp, entropy, values, minibatch, clip_eps=rl.clip_eps, vf_coef=rl.vf_coef,
                          ent_coef=rl.ent_coef, clip_value=rl.clip_value,
                          normalize_advantages=rl.normalize_advantages, clip_policy=rl.algorithm == "ppo")

  (loss, terms), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
  updates, opt_state = tx.update(grads, opt_state, params)
  return optax.apply_updates(params, updates), opt_state, {"loss": loss, **terms}


def collect_rollout(agent, key, *, config, spec):
  """`rl.num_steps` steps of every environment under the current policy (a lax.scan)."""
  env, env_params = make_env(spec.env_name)
  model, rl = _model(config, spec), config.rl
  num_envs = config.train.batch_size

  def step(carry, step_key):
    env_state, obs, episode_return, last_return, discounted = carry
    act_key, env_key = jax.random.split(step_key)
    out, log_std = model.apply({"params": agent["params"]}, normalize_obs(obs, agent["obs_stats"], rl.normalize_obs),
                               method="actor")
    action, logp = sample_action(act_key, out, log_std, spec.continuous)
    next_obs, env_state, reward, terminated, truncated, info = jax.vmap(env.step, (0, 0, 0, None))(
        jax.random.split(env_key, num_envs), env_state, env_action(action, spec), env_params)
    done = jnp.logical_or(terminated, truncated)
    episode_return = episode_return + reward
    last_return = jnp.where(done, episode_return, last_return)
    discounted = discounted * rl.gamma + reward
    transition = {"obs": obs, "action": action, "logp": logp, "reward": reward, "terminated": terminated,
                  "truncated": truncated, "final_obs": info["final_observation"], "discounted": discounted}
    carry = (env_state, next_obs, jnp.where(done, 0.0, episode_return), last_return,
             jnp.where(done, 0.0, discounted))
    return carry, transition

  carry = (agent["env_state"], agent["obs"], agent["episode_return"], agent["last_return"], agent["discounted"])
  carry, rollout = jax.lax.scan(step, carry, jax.random.split(key, rl.num_steps))
  env_state, obs, episode_return, last_return, discounted = carry
  agent = {**agent, "env_state": env_state, "obs": obs, "episode_return": episode_return,
           "last_return": last_return, "discounted": discounted}
  return agent, rollout


def _rollout_targets(agent, rollout, *, config, spec):
  """Values of the whole rollout in one critic call, then advantages and value targets."""
  model, rl = _model(config, spec), config.rl
  t, e = rollout["reward"].shape
  flat = lambda x: x.reshape((-1,) + x.shape[2:])
  every_obs = jnp.concatenate([flat(rollout["obs"]), agent["obs"], flat(rollout["final_obs"])])
  every_obs = normalize_obs(every_obs, agent["obs_stats"], rl.normalize_obs)
  if rl.value_baseline:
    values = model.apply({"params": agent["params"]}, every_obs, method="critic")
  else:
    values = jnp.zeros(every_obs.shape[:1])
  values_TxE = values[:t * e].reshape(t, e)
  following = values[e:(t + 1) * e].reshape(t, e)        # V(obs_{t+1}), bootstrapping at the rollout's end.
  final = values[(t + 1) * e:].reshape(t, e)               # V(final observation of step t).
  next_values = jnp.where(rollout["truncated"], final, following)
  rewards = rollout["reward"]
  if rl.scale_rewards:
    rewards = rewards / jnp.sqrt(agent["return_stats"]["var"] + 1e-8)
  lam = 1.0 if rl.algorithm == "reinforce" else rl.gae_lambda
  advantages, targets = gae_advantages(rewards, values_TxE, next_values, rollout["terminated"],
                                       rollout["truncated"], rl.gamma, lam)
  return values_TxE, advantages, targets


def update_agent(agent, *, config, spec):
  """One update of one agent: rollout, GAE, epochs x minibatches. Returns (agent, metrics)."""
  rl = config.rl
  key, rollout_key, shuffle_key = jax.random.split(agent["rng"], 3)
  old = agent
  agent, rollout = collect_rollout(agent, rollout_key, config=config, spec=spec)
  if rl.scale_rewards:   # Statistics of the discounted return, then rewards divided by its std.
    agent = {**agent, "return_stats": update_running_stats(agent["return_stats"], rollout["discounted"].reshape(-1, 1))}
  values, advantages, targets = _rollout_targets(agent, rollout, config=config, spec=spec)
  n = values.size
  flat = lambda x: x.reshape((n,) + x.shape[2:])
  data = {"obs": normalize_obs(flat(rollout["obs"]), old["obs_stats"], rl.normalize_obs),
          "action": flat(rollout["action"]), "logp": flat(rollout["logp"]), "value": flat(values),
          "advantage": flat(advantages), "target": flat(targets)}

  def epoch(carry, epoch_key):
    # One shuffle per epoch, then the scan slices consecutive minibatches (no gather per minibatch).
    order = jax.random.permutation(epoch_key, n)
    shuffled = jax.tree.map(lambda x: x[order].reshape((rl.num_minibatches, -1) + x.shape[1:]), data)

    def minibatch(carry, batch):
      params, opt_state = carry
      params, opt_state, terms = minibatch_update(params, opt_state, batch, config=config, spec=spec)
      return (params, opt_state), terms

    return jax.lax.scan(minibatch, carry, shuffled)

  (params, opt_state), terms = jax.lax.scan(epoch, (agent["params"], agent["opt_state"]),
                                            jax.random.split(shuffle_key, rl.update_epochs))
  obs_stats = agent["obs_stats"]
  if rl.normalize_obs:
    obs_stats = update_running_stats(obs_stats, flat(rollout["obs"]))
  agent = {**agent, "params": params, "opt_state": opt_state, "obs_stats": obs_stats, "rng": key}
  metrics = {k: jnp.mean(x) for k, x in terms.items()}
  metrics["episode_return"] = jnp.mean(agent["last_return"])
  return agent, metrics


def init_agent(key, *, config, spec):
  """One agent: network, optimizer state, environments reset, running statistics, its own key."""
  env, env_params = make_env(spec.env_name)
  init_key, reset_key, key = jax.random.split(key, 3)
  params = _model(config, spec).init(init_key, jnp.zeros((1,) + spec.obs_shape))["params"]
  num_envs = config.train.batch_size
  obs, env_state = jax.vmap(env.reset, (0, None))(jax.random.split(reset_key, num_envs), env_params)
  zeros = jnp.zeros(num_envs)
  return {"params": params, "opt_state": _optimizer(config, spec).init(params), "env_state": env_state,
          "obs": obs, "obs_stats": init_running_stats(spec.obs_shape), "return_stats": init_running_stats((1,)),
          "episode_return": zeros, "last_return": zeros, "discounted": zeros, "rng": key}


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
  return _logical_axes(jax.lax.map(functools.partial(init_agent, config=config, spec=spec), seed_keys(config)))


def train_step(state, batch, rng, *, config, spec):
  del batch, rng   # No host data; every agent draws from its own key.
  return jax.vmap(functools.partial(update_agent, config=config, spec=spec))(state)


# ---------------------------------------------------------------- evaluation


def run_episode(agent, key, *, greedy: bool, config, spec):
  """Return of one episode (up to the environment's time limit) of one agent."""
  env, env_params = make_env(spec.env_name)
  model = _model(config, spec)
  reset_key, key = jax.random.split(key)
  obs, env_state = env.reset(reset_key, env_params)

  def step(carry, step_key):
    obs, env_state, total, done = carry
    act_key, env_key = jax.random.split(step_key)
    out, log_std = model.apply({"params": agent["params"]},
                               normalize_obs(obs, agent["obs_stats"], config.rl.normalize_obs)[None], method="actor")
    action = greedy_action(out, spec.continuous) if greedy else sample_action(act_key, out, log_std, spec.continuous)[0]
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


def report(run, state, outputs) -> dict:
  """Final training return (mean over seeds and per seed), env steps/s, evaluation returns per seed."""
  final = np.asarray(jax.device_get(state["last_return"])).mean(axis=1)
  rates = [r["train/env_steps_per_sec"] for r in read_metrics(run.workdir) if "train/env_steps_per_sec" in r] \
      if os.path.exists(os.path.join(run.workdir, "metrics.jsonl")) else []
  steady = rates[1:] or rates   # The first window includes compilation.
  return {"final_return_mean": float(final.mean()), "final_return_per_seed": final.tolist(),
          "env_steps_per_sec": float(np.median(steady)) if steady else None, **_per_seed(outputs)}


def eval_mode(run, state, options) -> dict:
  """`--mode=eval`: `--num_episodes` (default rl.eval_episodes) greedy and sampled episodes per seed."""
  from bigmodel_jax import evaluation  # Late: evaluation imports the workloads' users.
  episodes = int(options.get("num_episodes") or run.config.rl.eval_episodes)
  if episodes < 1:
    raise ConfigError(f"--num_episodes={episodes}; expected an integer >= 1")
  run = dataclasses.replace(run, data=EpisodeData(run.data.spec, episodes))
  metrics, outputs = evaluation.evaluate(run, state, EPISODES)
  return {"episodes": episodes, **metrics, **_per_seed(outputs)}


def throughput(config, spec):
  del spec
  return "env_steps", config.rl.num_seeds * config.train.batch_size * config.rl.num_steps


def checkpoint_meta(config) -> dict:
  return {**default_checkpoint_meta(config), "env": config.env.name}


CONFIG_CHECKS = {
    "env.name": check_env_name,
    "rl.algorithm": v.one_of(*ALGORITHMS),
    "rl.num_seeds": v.POSITIVE_INT,
    "rl.total_env_steps": v.POSITIVE_INT,
    "rl.num_steps": v.POSITIVE_INT,
    "rl.update_epochs": v.POSITIVE_INT,
    "rl.num_minibatches": v.POSITIVE_INT,
    "rl.gamma": v.FRACTION,
    "rl.gae_lambda": v.FRACTION,
    "rl.clip_eps": v.POSITIVE,
    "rl.vf_coef": v.NON_NEGATIVE,
    "rl.ent_coef": v.NON_NEGATIVE,
    "rl.clip_value": v.BOOL,
    "rl.normalize_advantages": v.BOOL,
    "rl.value_baseline": v.BOOL,
    "rl.normalize_obs": v.BOOL,
    "rl.scale_rewards": v.BOOL,
    "rl.eval_episodes": v.POSITIVE_INT,
}

WORKLOAD = Workload(make_data=make_data, num_train_steps=num_train_steps, init_state=init_state,
                    train_step=train_step, eval_step=eval_step, summarize=summarize, report=report,
                    eval_splits=(), final_split=EPISODES, guarded_metrics=("loss",),
                    curve_metrics=("episode_return", "entropy", "approx_kl"), throughput=throughput,
                    checkpoint_meta=checkpoint_meta, modes={"eval": eval_mode}, config_checks=CONFIG_CHECKS)
