"""What the PPO benchmarks share (no flags here: each benchmark module defines its own)."""


def set_agents(config, num_seeds: int, devices: int) -> None:
  """`num_seeds` agents, split over `devices` when they divide evenly, all updates in one dispatch."""
  from bigmodel_jax.engine import parallel
  from bigmodel_jax.workloads import get_workload
  config.rl.num_seeds = num_seeds
  config.mesh.data = devices if num_seeds % devices == 0 else 1
  if config.mesh.data > 1:
    config.mesh.param_sharding, config.mesh.rules = "logical", (("seed", "data"),)
  workload = get_workload(config.workload)
  updates = workload.num_train_steps(config, workload.make_data(config, parallel.make_mesh(config.mesh)).spec)
  config.train.steps_per_dispatch = config.train.log_every_steps = updates
