r"""REINFORCE (plain policy gradient) on CartPole-v1: 16 agents in one call, 1e6 env steps each.

  python -m launch.main --config=configs/reinforce_cartpole.py --workdir=runs/reinforce_cartpole

The source material's policy gradient: Monte-Carlo returns (GAE with lambda = 1,
bootstrapped only at time limits and rollout ends by the baseline), a learned value
baseline, no clipping, one gradient step per rollout of 16 environments x 256 steps;
Adam 1e-3 annealed. Hardware: 2-core CPU. Time and result: see WORKSPACE.md.
`:tiny` runs 4 small updates of 2 seeds.
"""
import ml_collections

from bigmodel_jax import config_sections as sections


def get_config(arg=None):
  c = ml_collections.ConfigDict()
  c.workload = "rl"                  # Key of bigmodel_jax.workloads.WORKLOADS.
  c.seed = 0                         # Agent i uses seed + i (network, environments, actions).
  c.init_from = ""                   # Workdir of another run to take matching parameters from.

  c.env = ml_collections.ConfigDict()
  c.env.name = "CartPole-v1"         # A gymnax environment id (gymnax.registered_envs).

  c.model = ml_collections.ConfigDict()
  c.model.name = "actor_critic"      # Key of bigmodel_jax.models.MODELS.
  c.model.hidden = (64, 64)          # Dense widths of the actor and of the critic.
  c.model.activation = "tanh"
  c.model.conv_features = ()         # 3x3 convolutions before the dense layers (MinAtar).
  c.model.head = "categorical"       # categorical (discrete actions) | gaussian (continuous).
  c.model.log_std_init = 0.0         # gaussian: initial log standard deviation.

  c.rl = ml_collections.ConfigDict()
  c.rl.algorithm = "reinforce"           # ppo | reinforce (Monte-Carlo returns, no clipping).
  c.rl.num_seeds = 16                # Independent agents trained together (vmap).
  c.rl.total_env_steps = 1_000_000    # Per agent; updates = this // (envs x num_steps).
  c.rl.num_steps = 256               # Rollout length per environment and update.
  c.rl.update_epochs = 1             # Passes over each rollout.
  c.rl.num_minibatches = 1           # Minibatches per pass; must divide envs x num_steps.
  c.rl.gamma = 0.99                  # Discount.
  c.rl.gae_lambda = 0.95             # GAE lambda (REINFORCE uses 1).
  c.rl.clip_eps = 0.2                # PPO ratio clip (and value clip).
  c.rl.vf_coef = 0.5                 # Value-loss weight.
  c.rl.ent_coef = 0.01               # Entropy bonus weight.
  c.rl.clip_value = False            # Clip the value update around the rollout's values.
  c.rl.normalize_advantages = True   # Per minibatch.
  c.rl.value_baseline = True         # Train a critic and subtract it (off: REINFORCE without baseline).
  c.rl.normalize_obs = False         # Running mean / std of observations.
  c.rl.scale_rewards = False         # Divide rewards by the running std of the discounted return.
  c.rl.eval_episodes = 16            # Episodes per agent at the end and in --mode=eval (--num_episodes).

  c.optimizer = sections.optimizer(name="adam", learning_rate=1e-3, eps=1e-5, schedule="linear",
                                   final_lr_fraction=0.0, grad_clip_norm=0.5)
  # batch_size = environments per agent; the run's length comes from rl.total_env_steps.
  c.train = sections.train(batch_size=16, steps_per_dispatch=61, log_every_steps=61)
  c.eval = sections.evaluation(batch_size=16)   # Episodes per evaluation call.
  c.checkpoint = sections.checkpoint(every_steps=244)
  c.mesh = sections.mesh()

  if arg == "tiny":
    c.rl.update(num_seeds=2, total_env_steps=1024, num_steps=32, eval_episodes=8)
    c.train.update(batch_size=8, steps_per_dispatch=2, log_every_steps=2)
    c.eval.batch_size = 8
  elif arg:
    raise ValueError(f"unknown variant {arg!r}; use 'tiny' or nothing")
  return c
