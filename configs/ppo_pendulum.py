r"""PPO on Pendulum-v1 (gymnax), continuous torque: 4 agents (seeds 0..3) in one call, 1e6 env steps each.

  python -m launch.main --config=configs/ppo_pendulum.py --workdir=runs/ppo_pendulum

A Gaussian policy (64-64 tanh mean, learned state-independent log-std), actions
clipped to [-2, 2] for the environment; 16 environments x 128 steps per update, 10
epochs x 32 minibatches, Adam 1e-3 annealed, gamma 0.9 (Pendulum's reward is dense),
no entropy bonus, running observation normalisation and reward scaling. Target:
mean final return >= -250. Hardware: 2-core CPU. Time and result: see WORKSPACE.md.
`:tiny` runs 4 small updates of 2 seeds.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.rl import workload as rl


def get_config(arg=None):
  c = experiment(
      "rl",
      model=sections.model("actor_critic", head="gaussian"),
      env=dict(name="Pendulum-v1"),
      optimizer=dict(learning_rate=1e-3),
      rl=dict(num_seeds=4, num_envs=16, total_env_steps=1_000_000, update_epochs=10, num_minibatches=32,
              gamma=0.9, ent_coef=0.0, clip_value=False, normalize_obs=True, scale_rewards=True),
      train=dict(steps_per_dispatch=61, log_every_steps=61),
      checkpoint=dict(every_steps=244))
  return sections.with_variant(c, arg, tiny=lambda c: rl.tiny(c, update_epochs=1, num_minibatches=2))
