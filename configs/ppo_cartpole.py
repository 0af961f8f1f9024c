r"""PPO on CartPole-v1 (gymnax): 16 agents (seeds 0..15) trained in one call, 5e5 env steps each.

  python -m launch.main --config=configs/ppo_cartpole.py --workdir=runs/ppo_cartpole
  python -m launch.main --config=configs/ppo_cartpole.py --workdir=runs/ppo_cartpole --mode=eval --num_episodes=32

The well-known pure-JAX PPO settings: 4 environments x 128 steps per update, 4 epochs
x 4 minibatches, a 64-64 tanh actor and critic, Adam 2.5e-4 annealed linearly to 0,
gradient norm clipped at 0.5, GAE(0.99, 0.95), clip 0.2, entropy 0.01; 976 updates,
122 of them per dispatch. Hardware: 2-core CPU, no accelerator. Time and result:
see WORKSPACE.md (measured 2026-11-23). `:tiny` runs 16 small updates of 2 seeds.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.rl import workload as rl


def get_config(arg=None):
  c = experiment(
      "rl",
      model=sections.model("actor_critic"),
      # Speed options measured on this config (WORKSPACE.md, PPO profile): the critic in the rollout,
      # 4 rollout steps per scan trip, one agent without a vmap axis.
      rl=dict(num_seeds=16, values_in_rollout=True, rollout_unroll=4, vmap_one_agent=False),
      train=dict(steps_per_dispatch=122, log_every_steps=122),
      checkpoint=dict(every_steps=488))
  return sections.with_variant(c, arg, tiny=tiny)


def tiny(c):
  """16 updates of 8 envs x 32 steps; the return already rises ~2.5x."""
  rl.tiny(c, total_env_steps=4096, update_epochs=2, num_minibatches=2)
  c.optimizer.learning_rate = 2.5e-3
  c.train.update(steps_per_dispatch=4, log_every_steps=4)
  c.checkpoint.every_steps = 8


# Measured: `python -m launch.reproduce --only=ppo_cartpole --seeds=3` (base seeds 0, 1, 2; 16 agents each):
# final return 500.0 for every agent of every seed, 62-72 s of training (73-84 s wall), 2-core CPU, load 5-7.
CLAIM = dict(metric="test_details.final_return_mean", value=500.0, tolerance=5.0, higher_is_better=True,
             hardware="2-core CPU", train_minutes=1.1, measured="2026-12-03", seeds=3, table="rl")
