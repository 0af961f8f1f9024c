"""Device mesh, parameter shardings and batch placement: the one sharding path of every workload.

The mesh has two named axes: `data` (batch, and parameters under FSDP) and `model`
(tensor parallelism, used by workloads whose models annotate logical axes).
"""
import math

import jax
import numpy as np
from jax.experimental import mesh_utils
from jax.sharding import AxisType, Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from bigmodel_jax.errors import ConfigError

DATA_AXIS = "data"
MODEL_AXIS = "model"

# Arrays smaller than this stay replicated under FSDP: splitting them costs more
# in collectives than it saves in memory.
FSDP_MIN_SIZE = 2**12


def make_mesh(mesh_config) -> Mesh:
  """Builds a (data, model) mesh; `data=-1` takes every device not used by `model`."""
  devices = jax.devices()
  model = mesh_config.model
  data = mesh_config.data if mesh_config.data != -1 else len(devices) // max(model, 1)
  if data < 1 or model < 1 or data * model > len(devices):
    raise ConfigError(
        f"mesh data={mesh_config.data} x model={model} does not fit the {len(devices)} available devices")
  if data * model == len(devices):
    grid = mesh_utils.create_device_mesh((data, model), devices)
  else:  # A sub-mesh, e.g. a 1-device run on a multi-device host.
    grid = np.asarray(devices[:data * model]).reshape(data, model)
  return Mesh(grid, (DATA_AXIS, MODEL_AXIS), axis_types=(AxisType.Auto, AxisType.Auto))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """Leading (batch) dimension split over `data`, replicated over `model`."""
  return NamedSharding(mesh, P(DATA_AXIS))


def fsdp_spec(shape, axis_size: int) -> P:
  """Shards the largest dimension divisible by the data-axis size; small arrays stay whole."""
  if math.prod(shape) < FSDP_MIN_SIZE:
    return P()
  for dim in sorted(range(len(shape)), key=lambda d: -shape[d]):
    if shape[dim] % axis_size == 0:
      spec = [None] * len(shape)
      spec[dim] = DATA_AXIS
      return P(*spec)
  return P()


def _replicate_all(abstract_state, mesh):
  return jax.tree.map(lambda _: replicated(mesh), abstract_state)


def _fsdp_all(abstract_state, mesh):
  size = mesh.shape[DATA_AXIS]
  return jax.tree.map(lambda x: NamedSharding(mesh, fsdp_spec(x.shape, size)), abstract_state)


# How parameters and optimizer state are laid out, chosen by `config.mesh.param_sharding`.
PARAM_SHARDINGS = {
    "replicate": _replicate_all,
    "fsdp": _fsdp_all,
}


def state_shardings(abstract_state, mesh: Mesh, strategy: str):
  if strategy not in PARAM_SHARDINGS:
    raise ConfigError(f"mesh.param_sharding={strategy!r}; choose one of {sorted(PARAM_SHARDINGS)}")
  return PARAM_SHARDINGS[strategy](abstract_state, mesh)


def create_sharded_state(init_fn, rng, mesh: Mesh, strategy: str):
  """Creates the train state directly in its final layout (never whole on one device).

  Returns (state, shardings); `init_fn(rng)` must be pure.
  """
  abstract = jax.eval_shape(init_fn, rng)
  shardings = state_shardings(abstract, mesh, strategy)
  state = jax.jit(init_fn, out_shardings=shardings)(rng)
  return state, shardings


def check_batch_divisible(batch_size: int, mesh: Mesh, what: str = "train.batch_size"):
  shards = mesh.shape[DATA_AXIS]
  if batch_size % shards or batch_size % jax.process_count():
    raise ConfigError(
        f"{what}={batch_size} is not divisible by the {shards} devices of the mesh's data axis")


def process_slice(global_batch_size: int) -> slice:
  """Rows of a global batch that this host feeds to its devices."""
  local = global_batch_size // jax.process_count()
  start = jax.process_index() * local
  return slice(start, start + local)


def shard_batch(batch, mesh: Mesh):
  """Places this host's rows of a global batch onto the devices, split over `data`."""
  sharding = batch_sharding(mesh)
  return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, x), batch)
