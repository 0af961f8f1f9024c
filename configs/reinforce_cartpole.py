r"""REINFORCE (plain policy gradient) on CartPole-v1: 16 agents in one call, 1e6 env steps each.

  python -m launch.main --config=configs/reinforce_cartpole.py --workdir=runs/reinforce_cartpole

The source material's policy gradient: Monte-Carlo returns (GAE with lambda = 1,
bootstrapped only at time limits and rollout ends by the baseline), a learned value
baseline, no clipping, one gradient step per rollout of 16 environments x 256 steps;
Adam 1e-3 annealed. Hardware: 2-core CPU. Time and result: see WORKSPACE.md.
`:tiny` runs 4 small updates of 2 seeds.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.rl import workload as rl


def get_config(arg=None):
  c = experiment(
      "rl",
      model=sections.model("actor_critic"),
      optimizer=dict(learning_rate=1e-3),
      rl=dict(algorithm="reinforce", num_seeds=16, num_envs=16, total_env_steps=1_000_000, num_steps=256,
              update_epochs=1, num_minibatches=1, clip_value=False),
      train=dict(steps_per_dispatch=61, log_every_steps=61),
      checkpoint=dict(every_steps=244))
  return sections.with_variant(c, arg, tiny=lambda c: rl.tiny(c))
