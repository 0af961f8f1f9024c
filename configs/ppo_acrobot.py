r"""PPO on Acrobot-v1 (gymnax): 8 agents (seeds 0..7) trained in one call, 5e5 env steps each.

  python -m launch.main --config=configs/ppo_acrobot.py --workdir=runs/ppo_acrobot

CartPole's PPO settings with 16 environments x 64 steps per update (4 epochs x 4
minibatches, 64-64 tanh actor and critic, Adam 2.5e-4 annealed); 488 updates.
Target: mean final return >= -90. Hardware: 2-core CPU. Time and result: see
WORKSPACE.md. `:tiny` runs 4 small updates of 2 seeds.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.rl import workload as rl


def get_config(arg=None):
  c = experiment(
      "rl",
      model=sections.model("actor_critic"),
      env=dict(name="Acrobot-v1"),
      rl=dict(num_seeds=8, num_envs=16, num_steps=64),
      train=dict(steps_per_dispatch=61, log_every_steps=61),
      checkpoint=dict(every_steps=244))
  return sections.with_variant(c, arg, tiny=lambda c: rl.tiny(c, update_epochs=1, num_minibatches=2))
