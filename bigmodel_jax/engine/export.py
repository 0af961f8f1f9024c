"""--mode=export: the run's inference function and weights as one serialized `jax.export` artefact.

The artefact folder (--output, default <workdir>/export) holds
  model.jaxexport      serialized StableHLO with the parameters inside, batch dimension symbolic ("b");
  metadata.json        input shape and dtype, what the output means, classes, the run it came from;
  example_inputs.npy / example_outputs.npy   a few inputs and the trainer's own outputs for them.
Loading needs only jax and numpy (`launch/serve.py` serves it):
  jax.export.deserialize(bytearray(open("model.jaxexport", "rb").read())).call(x)
Each workload says what its inference function is (`Inference`) and registers
`workloads.base.export_mode(...)`, which calls `write_artefact`.
"""
import dataclasses
import json
import os
from typing import Any, Callable

import jax
import numpy as np

from bigmodel_jax.errors import ConfigError

MODEL_FILE = "model.jaxexport"
META_FILE = "metadata.json"
FORMAT = 1   # Bumped when the folder's layout changes.


@dataclasses.dataclass(frozen=True)
class Inference:
  """What a workload exports: `fn(x_B...)` with the run's weights closed over, for inputs of one
  example's `input_shape` and `input_dtype` stacked on a leading batch axis."""
  fn: Callable
  input_shape: tuple
  input_dtype: str
  meta: dict             # What the output means, class names, ...: copied into metadata.json.
  example: Any           # A few inputs (batch first), saved with the trainer's outputs for them.


def export_inference(inf: Inference):
  """The jax.export.Exported of `inf.fn` with a symbolic batch dimension."""
  batch = jax.export.symbolic_shape("b")
  arg = jax.ShapeDtypeStruct((*batch, *inf.input_shape), np.dtype(inf.input_dtype))
  return jax.export.export(jax.jit(inf.fn))(arg)


def one_device_like(mesh):
  """A mesh of the first device with `mesh`'s axis names, so sharding annotations still resolve."""
  devices = np.array(jax.devices()[:1]).reshape((1,) * len(mesh.axis_names))
  return jax.sharding.Mesh(devices, mesh.axis_names, axis_types=mesh.axis_types)


def _metadata(run, state_step: int, inf: Inference, exported) -> dict:
  outputs = exported.out_avals
  return {"format": FORMAT, "workload": run.config.workload,
          "model": run.config.model.name if "model" in run.config else run.config.workload,
          "input_shape": list(inf.input_shape), "input_dtype": inf.input_dtype,
          "output_shape": [str(d) for d in outputs[0].shape[1:]], "output_dtype": str(outputs[0].dtype),
          "run": {"workdir": os.path.abspath(run.workdir), "step": state_step, "config_source": run.config_source,
                  "seed": run.config.seed},
          "jax_version": jax.__version__, "xla_flags": compiler_flags(), **inf.meta}


def compiler_flags() -> list:
  """The XLA flags the example outputs were computed under: a loader sets the same ones to get
  bit-identical outputs (the CPU convolution kernels differ in rounding). Not device counts."""
  return [f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform")]


def write_artefact(run, state, folder: str, make_inference) -> dict:
  """--mode=export: writes the artefact folder (module docstring); returns what it wrote."""
  if os.path.exists(folder) and not os.path.isdir(folder):
    raise ConfigError(f"--output={folder!r} is a file; export writes a folder")
  inf = make_inference(run, state)
  example = np.asarray(inf.example, np.dtype(inf.input_dtype))
  with jax.set_mesh(one_device_like(run.mesh)):   # Loadable on any one device, not only this mesh.
    exported = export_inference(inf)
    expected = np.asarray(jax.jit(inf.fn)(example))
  step = int(jax.device_get(getattr(state, "step", None) if not isinstance(state, dict) else state.get("step", 0)))
  if run.is_writer:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, MODEL_FILE), "wb") as f:
      f.write(exported.serialize())
    with open(os.path.join(folder, META_FILE), "w") as f:
      json.dump(_metadata(run, step, inf, exported), f, indent=1)
    np.save(os.path.join(folder, "example_inputs.npy"), example)
    np.save(os.path.join(folder, "example_outputs.npy"), expected)
  return {"output": folder, "input_shape": ["b", *inf.input_shape], "input_dtype": inf.input_dtype,
          "bytes": len(exported.serialize())}

