"""The agent's math, pure functions of arrays: policies, running statistics, GAE, the PPO /
REINFORCE loss, one minibatch update, a rollout and one whole update of one agent.

`update_agent` is one update of one agent (the workload vmaps it over seeds):
a rollout of `rl.num_steps` steps in `rl.num_envs` environments (a `lax.scan`), the
values of the whole rollout in one batched critic call, GAE, then `rl.update_epochs`
x `rl.num_minibatches` gradient steps (nested `lax.scan`s).
"""
import jax
import jax.numpy as jnp
import optax

from bigmodel_jax.engine.optim import make_optimizer
from bigmodel_jax.models import build_model
from bigmodel_jax.workloads.rl.env import env_action, make_env


def agent_model(config, spec):
  return build_model(config.model, num_outputs=spec.num_actions)


def agent_optimizer(config, spec):
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
  model, tx, rl = agent_model(config, spec), agent_optimizer(config, spec), config.rl

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
  model, rl = agent_model(config, spec), config.rl
  num_envs = config.rl.num_envs

  def step(carry, step_key):
    env_state, obs, episode_return, last_return, discounted = carry
    act_key, env_key = jax.random.split(step_key)
    inputs = normalize_obs(obs, agent["obs_stats"], rl.normalize_obs)
    if rl.values_in_rollout:
      (out, log_std), value = model.apply({"params": agent["params"]}, inputs)
    else:
      out, log_std = model.apply({"params": agent["params"]}, inputs, method="actor")
    action, logp = sample_action(act_key, out, log_std, spec.continuous)
    next_obs, env_state, reward, terminated, truncated, info = jax.vmap(env.step, (0, 0, 0, None))(
        jax.random.split(env_key, num_envs), env_state, env_action(action, spec), env_params)
    done = jnp.logical_or(terminated, truncated)
    episode_return = episode_return + reward
    last_return = jnp.where(done, episode_return, last_return)
    discounted = discounted * rl.gamma + reward
    transition = {"obs": obs, "action": action, "logp": logp, "reward": reward, "terminated": terminated,
                  "truncated": truncated, "final_obs": info["final_observation"], "discounted": discounted}
    if rl.values_in_rollout:
      transition["value"] = value
    carry = (env_state, next_obs, jnp.where(done, 0.0, episode_return), last_return,
             jnp.where(done, 0.0, discounted))
    return carry, transition

  carry = (agent["env_state"], agent["obs"], agent["episode_return"], agent["last_return"], agent["discounted"])
  carry, rollout = jax.lax.scan(step, carry, jax.random.split(key, rl.num_steps), unroll=rl.rollout_unroll)
  env_state, obs, episode_return, last_return, discounted = carry
  agent = {**agent, "env_state": env_state, "obs": obs, "episode_return": episode_return,
           "last_return": last_return, "discounted": discounted}
  return agent, rollout


def _critic_values(agent, obs_NxO, *, config, spec):
  """The critic's values of a batch of observations (zeros without a value baseline)."""
  if not config.rl.value_baseline:
    return jnp.zeros(obs_NxO.shape[:1])
  obs_NxO = normalize_obs(obs_NxO, agent["obs_stats"], config.rl.normalize_obs)
  return agent_model(config, spec).apply({"params": agent["params"]}, obs_NxO, method="critic")


def _rollout_targets(agent, rollout, *, config, spec):
  """Values of the whole rollout in one critic call (or its observations' from the rollout, with
  `rl.values_in_rollout`), then advantages and value targets."""
  rl = config.rl
  t, e = rollout["reward"].shape
  flat = lambda x: x.reshape((-1,) + x.shape[2:])
  if rl.values_in_rollout:
    rest = _critic_values(agent, jnp.concatenate([agent["obs"], flat(rollout["final_obs"])]), config=config, spec=spec)
    values_TxE = rollout["value"] if rl.value_baseline else jnp.zeros((t, e))
    following = jnp.concatenate([values_TxE[1:], rest[None, :e]])
    final = rest[e:].reshape(t, e)
  else:
    every_obs = jnp.concatenate([flat(rollout["obs"]), agent["obs"], flat(rollout["final_obs"])])
    values = _critic_values(agent, every_obs, config=config, spec=spec)
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


def update_data(agent, old, rollout, *, config, spec):
  """The rollout as one flat batch of transitions with their values, advantages and targets;
  observations normalised by the statistics the rollout was collected under (`old`)."""
  rl = config.rl
  values, advantages, targets = _rollout_targets(agent, rollout, config=config, spec=spec)
  n = values.size
  flat = lambda x: x.reshape((n,) + x.shape[2:])
  return {"obs": normalize_obs(flat(rollout["obs"]), old["obs_stats"], rl.normalize_obs),
          "action": flat(rollout["action"]), "logp": flat(rollout["logp"]), "value": flat(values),
          "advantage": flat(advantages), "target": flat(targets)}


def train_epochs(params, opt_state, data, shuffle_key, *, config, spec):
  """`rl.update_epochs` passes over `data`, each in `rl.num_minibatches` shuffled minibatches.
  Returns (params, opt_state, loss terms [epochs, minibatches])."""
  rl = config.rl
  n = data["action"].shape[0]

  to_minibatches = lambda x: x.reshape((rl.num_minibatches, -1) + x.shape[1:])

  def minibatch(carry, batch):
    params, opt_state = carry
    params, opt_state, terms = minibatch_update(params, opt_state, batch, config=config, spec=spec)
    return (params, opt_state), terms

  def epoch(carry, epoch_key):
    # One shuffle per epoch, then the scan slices consecutive minibatches (no gather per minibatch).
    order = jax.random.permutation(epoch_key, n)
    shuffled = jax.tree.map(lambda x: to_minibatches(x[order]), data)
    return jax.lax.scan(minibatch, carry, shuffled, unroll=rl.epoch_unroll)

  def shuffled_epoch(carry, shuffled):
    return jax.lax.scan(minibatch, carry, shuffled, unroll=rl.epoch_unroll)

  epoch_keys = jax.random.split(shuffle_key, rl.update_epochs)
  if rl.fused_shuffle:   # Every epoch's permutation (the same ones) in one batched sort and one gather.
    orders = jax.vmap(lambda k: jax.random.permutation(k, n))(epoch_keys)
    shuffled = jax.tree.map(lambda x: jax.vmap(to_minibatches)(x[orders]), data)
    (params, opt_state), terms = jax.lax.scan(shuffled_epoch, (params, opt_state), shuffled)
  else:
    (params, opt_state), terms = jax.lax.scan(epoch, (params, opt_state), epoch_keys)
  return params, opt_state, terms


def update_agent(agent, *, config, spec):
  """One update of one agent: rollout, GAE, epochs x minibatches. Returns (agent, metrics)."""
  rl = config.rl
  key, rollout_key, shuffle_key = jax.random.split(agent["rng"], 3)
  old = agent
  agent, rollout = collect_rollout(agent, rollout_key, config=config, spec=spec)
  if rl.scale_rewards:   # Statistics of the discounted return, then rewards divided by its std.
    return_stats = update_running_stats(agent["return_stats"], rollout["discounted"].reshape(-1, 1))
    agent = {**agent, "return_stats": return_stats}
  data = update_data(agent, old, rollout, config=config, spec=spec)
  params, opt_state, terms = train_epochs(agent["params"], agent["opt_state"], data, shuffle_key,
                                          config=config, spec=spec)
  obs_stats = agent["obs_stats"]
  if rl.normalize_obs:
    obs_stats = update_running_stats(obs_stats, rollout["obs"].reshape((-1,) + spec.obs_shape))
  agent = {**agent, "params": params, "opt_state": opt_state, "obs_stats": obs_stats, "rng": key}
  metrics = {k: jnp.mean(x) for k, x in terms.items()}
  metrics["episode_return"] = jnp.mean(agent["last_return"])
  return agent, metrics


def init_agent(key, *, config, spec):
  """One agent: network, optimizer state, environments reset, running statistics, its own key."""
  env, env_params = make_env(spec.env_name)
  init_key, reset_key, key = jax.random.split(key, 3)
  params = agent_model(config, spec).init(init_key, jnp.zeros((1,) + spec.obs_shape))["params"]
  num_envs = config.rl.num_envs
  obs, env_state = jax.vmap(env.reset, (0, None))(jax.random.split(reset_key, num_envs), env_params)
  zeros = jnp.zeros(num_envs)
  return {"params": params, "opt_state": agent_optimizer(config, spec).init(params), "env_state": env_state,
          "obs": obs, "obs_stats": init_running_stats(spec.obs_shape), "return_stats": init_running_stats((1,)),
          "episode_return": zeros, "last_return": zeros, "discounted": zeros, "rng": key}

