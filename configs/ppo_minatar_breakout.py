r"""PPO on Breakout-MinAtar (gymnax) with a small CNN: 1 agent, 1e7 env steps.

  python -m launch.main --config=configs/ppo_minatar_breakout.py --workdir=runs/ppo_breakout

10x10x4 observations -> conv 3x3 16 (relu) -> dense 128 (relu), separate actor and
critic towers; 64 environments x 128 steps per update, 4 epochs x 8 minibatches,
Adam 5e-4 annealed, entropy 0.01. Target: return >= 35 within 1e7 env steps. On a
2-core CPU (shared) it ran 2.5-3k env steps/s, so the whole run takes about an hour;
100 updates reached a return of 6.0 (WORKSPACE.md, 2026-11-23).
`:tiny` runs 2 small updates of 2 seeds.
"""
from bigmodel_jax.config import sections
from bigmodel_jax.config.experiment import experiment
from bigmodel_jax.workloads.rl import workload as rl


def get_config(arg=None):
  c = experiment(
      "rl",
      model=sections.model("actor_critic", hidden=(128,), activation="relu", conv_features=(16,)),
      env=dict(name="Breakout-MinAtar"),
      optimizer=dict(learning_rate=5e-4),
      rl=dict(num_envs=64, total_env_steps=10_000_000, num_minibatches=8),
      train=dict(steps_per_dispatch=10, log_every_steps=10),
      checkpoint=dict(every_steps=100))
  return sections.with_variant(c, arg, tiny=lambda c: rl.tiny(c, total_env_steps=512, update_epochs=1,
                                                              num_minibatches=2))
