"""Device mesh, parameter shardings and batch placement: the one sharding path of every workload.

The mesh has two named axes: `data` (batch, and parameters under FSDP) and `model`
(tensor parallelism). Parameters are laid out by a `PARAM_SHARDINGS` strategy: all
replicated, FSDP over `data`, or by the logical axis names a model annotates and the
config's `mesh.rules` map to mesh axes. Batches are placed by the workload's layout
(rows over `data` by default); data that lives on the devices is placed once.
"""
import contextlib
import math

import flax.linen as nn
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
  """Builds a (data, model) mesh; `data=-1` takes every device not used by `model`.

  With `data=-1` the mesh must use every device (`model` must divide their number): a
  mesh that silently leaves devices idle is an error. An explicit `data` may ask for a
  sub-mesh (e.g. `data=1` for a one-device run); the idle devices are then named in one
  warning line.
  """
  devices = jax.devices()
  model = mesh_config.model
  data = mesh_config.data if mesh_config.data != -1 else len(devices) // max(model, 1)
  if data < 1 or model < 1 or data * model > len(devices):
    raise ConfigError(
        f"mesh data={mesh_config.data} x model={model} does not fit the {len(devices)} available devices")
  if mesh_config.data == -1 and data * model != len(devices):
    raise ConfigError(f"mesh.model={model} does not divide the {len(devices)} devices, so "
                      f"{len(devices) - data * model} would be idle; choose a divisor or set mesh.data too")
  if data * model < len(devices) and jax.process_index() == 0:
    print(f"warning: the mesh data={data} x model={model} uses {data * model} of the {len(devices)} devices; "
          f"{len(devices) - data * model} stay idle")
  if data * model == len(devices):
    grid = mesh_utils.create_device_mesh((data, model), devices)
  else:  # A sub-mesh, e.g. a 1-device run on a multi-device host.
    grid = np.asarray(devices[:data * model]).reshape(data, model)
  processes = sorted({d.process_index for d in grid.flat})
  if len(processes) < jax.process_count():
    raise ConfigError(f"mesh data={data} x model={model} holds devices of process(es) {processes} only; with "
                      f"{jax.process_count()} processes every one needs devices in the mesh (e.g. mesh.data=-1)")
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


def _unboxed(abstract_state):
  """The shapes inside logical-axis boxes (nn.unbox would apply their constraints to shapes, and fail)."""
  is_box = lambda x: isinstance(x, nn.Partitioned)
  return jax.tree.map(lambda x: x.value if is_box(x) else x, abstract_state, is_leaf=is_box)


def _replicate_all(abstract_state, mesh, mesh_config):
  del mesh_config
  return jax.tree.map(lambda _: replicated(mesh), _unboxed(abstract_state))


def _fsdp_all(abstract_state, mesh, mesh_config):
  del mesh_config
  size = mesh.shape[DATA_AXIS]
  return jax.tree.map(lambda x: NamedSharding(mesh, fsdp_spec(x.shape, size)), _unboxed(abstract_state))


def _by_logical_rules(abstract_state, mesh, mesh_config):
  """Arrays annotated with logical axis names go where `mesh.rules` maps them; others replicate."""
  specs = nn.get_partition_spec(abstract_state)
  rules = logical_rules(mesh_config)
  try:
    return nn.logical_to_mesh_sharding(specs, mesh, rules)
  except ValueError as e:
    raise ConfigError(f"mesh.rules={rules} do not fit this state: {str(e).splitlines()[0]}") from e


# How parameters and optimizer state are laid out, chosen by `config.mesh.param_sharding`:
# (abstract state, mesh, mesh config) -> shardings of the unboxed state.
PARAM_SHARDINGS = {
    "replicate": _replicate_all,
    "fsdp": _fsdp_all,
    "logical": _by_logical_rules,
}


def logical_rules(mesh_config) -> tuple:
  """`mesh.rules` as the tuple of (logical name, mesh axis or None) pairs Flax expects."""
  return tuple((str(name), None if axis in (None, "") else axis) for name, axis in mesh_config.rules)


@contextlib.contextmanager
def mesh_context(mesh: Mesh, mesh_config):
  """Traces and runs jitted functions with the mesh set and the logical axis rules active,
  so `nn.with_logical_constraint` in a model resolves to this mesh."""
  with jax.set_mesh(mesh), nn.logical_axis_rules(logical_rules(mesh_config)):
    yield


def state_shardings(abstract_state, mesh: Mesh, mesh_config):
  strategy = mesh_config.param_sharding
  if strategy not in PARAM_SHARDINGS:
    raise ConfigError(f"mesh.param_sharding={strategy!r}; choose one of {sorted(PARAM_SHARDINGS)}")
  return PARAM_SHARDINGS[strategy](abstract_state, mesh, mesh_config)


def create_sharded_state(init_fn, rng, mesh: Mesh, mesh_config, *inputs):
  """Creates the train state directly in its final layout (never whole on one device).

  Returns (state, shardings); `init_fn(rng, *inputs)` must be pure. `inputs` (e.g. the
  device data) are arguments, not closed over: arrays spanning several processes must be.
  Logical-axis boxes in its result decide the layout under `logical` and are removed.
  """
  abstract = jax.eval_shape(init_fn, rng, *inputs)
  shardings = state_shardings(abstract, mesh, mesh_config)
  state = jax.jit(lambda r, *a: nn.unbox(init_fn(r, *a)), out_shardings=shardings)(rng, *inputs)
  return state, shardings


def check_batch_divisible(batch_size: int, mesh: Mesh, what: str = "train.batch_size"):
  shards = mesh.shape[DATA_AXIS]
  if batch_size % shards:
    raise ConfigError(f"{what}={batch_size} is not divisible by the {shards} devices of the mesh's data axis")
  if batch_size % jax.process_count():
    raise ConfigError(f"{what}={batch_size} is not divisible by the {jax.process_count()} processes")


def process_rows(size: int) -> slice:
  """This process's part of a dimension of `size` split evenly over the processes."""
  local = size // jax.process_count()
  start = jax.process_index() * local
  return slice(start, start + local)


def process_slice(global_batch_size: int) -> slice:
  """Rows of a global batch that this host feeds to its devices."""
  return process_rows(global_batch_size)


def _data_dim(spec: P):
  for dim, axes in enumerate(spec):
    if axes == DATA_AXIS or (isinstance(axes, tuple) and DATA_AXIS in axes):
      return dim
  return None


def local_part(x: np.ndarray, spec: P) -> np.ndarray:
  """This process's slice of a global host array along the dimension `spec` puts on `data`."""
  dim = _data_dim(spec)
  if dim is None or jax.process_count() == 1:
    return x
  index = [slice(None)] * x.ndim
  index[dim] = process_rows(x.shape[dim])
  return x[tuple(index)]


def batch_specs(batch: dict, layout=None) -> dict:
  """The PartitionSpec of each batch array: `layout` is None (rows over `data`), one spec, or a dict."""
  if layout is None:
    return {k: P(DATA_AXIS) for k in batch}
  if isinstance(layout, P):
    return {k: layout for k in batch}
  return {k: layout.get(k, P(DATA_AXIS)) for k in batch}


def _global_shape(x: np.ndarray, spec: P) -> tuple:
  dim, shape = _data_dim(spec), list(np.shape(x))
  if dim is not None:
    shape[dim] *= jax.process_count()
  return tuple(shape)


def shard_batch(batch, mesh: Mesh, layout=None, *, local: bool = False):
  """Places a batch onto the devices (default: rows over `data`).

  `batch` is the global batch (each process takes its part), or with `local=True` this
  process's part already (its rows of every dimension split over `data`).
  """
  specs = batch_specs(batch, layout)
  placed = {}
  for k, x in batch.items():
    part = x if local else local_part(x, specs[k])
    shape = _global_shape(x, specs[k]) if local else np.shape(x)
    placed[k] = jax.make_array_from_process_local_data(NamedSharding(mesh, specs[k]), part, shape)
  return placed


def place_global(arrays: dict, mesh: Mesh, layout=None) -> dict:
  """Puts whole host arrays (identical on every process) on the devices once; default replicated."""
  if layout is None:
    layout = P()
  specs = {k: layout if isinstance(layout, P) else layout.get(k, P()) for k in arrays}

  def place(x, spec):
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, NamedSharding(mesh, spec), lambda index: x[index])

  return {k: place(x, specs[k]) for k, x in arrays.items()}
