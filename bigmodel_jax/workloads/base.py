"""The contract between a workload and the shared path (`bigmodel_jax.engine.trainer`).

The engine owns the mesh, shardings, jit, the loop, checkpoints, logging, NaN
checks, evaluation cadence and the summary; a workload owns its data, its state and
its pure functions. WORKSPACE.md ("The contract") shows these types on one page.

Functions get `config` and `spec` by keyword; everything else is an array:
  init_state(rng, device_data, *, config, spec) -> state      a pytree of arrays (Flax
      logical-axis boxes allowed: the layout reads them, the engine unboxes the state).
  gather_batch(device_data, step, rng, *, config, spec) -> batch   on device, inside
      the jitted step, when the data has no host batches.
  train_step(state, batch, rng, *, config, spec) -> (state, metrics)   metrics are
      arrays of any shape (a seed axis is fine).
  eval_step(state, batch, rng, *, config, spec) -> dict of per-row arrays.
  summarize(outputs, *, config, data) -> dict of floats         on the unpadded outputs.
  report(run, state, outputs) -> Report   runs on every process, writes files only
      where `run.is_writer`.
"""
import dataclasses
import json
import os
from typing import Any, Callable, Optional

from bigmodel_jax.config import sections as shared_sections
from bigmodel_jax.config import checks as v
from bigmodel_jax.config.checks import Check
from bigmodel_jax.data.base import Data
from bigmodel_jax.engine import export
from bigmodel_jax.errors import ConfigError


@dataclasses.dataclass
class Report:
  """What `Workload.report` returns into summary.json."""
  details: dict = dataclasses.field(default_factory=dict)   # Under "test_details" (per-class tables, ...).
  metrics: dict = dataclasses.field(default_factory=dict)   # Joins the final metrics ("test"), e.g. the FD.
  summary: dict = dataclasses.field(default_factory=dict)   # Top-level entries (e.g. k-means inertia).


@dataclasses.dataclass(frozen=True)
class ModeFlag:
  """A command-line flag of a mode (`--num_samples=64`), declared with its check like a config key.

  Its value when not given is `default`, or the config value at `default_key` (e.g. "lm.num_tokens").
  """
  type: type                 # int, float or str.
  help: str
  check: Check
  default: Any = None
  default_key: str = ""


@dataclasses.dataclass(frozen=True)
class Mode:
  """`--mode=<name>`: `run(run, state, options) -> dict` on the latest checkpoint; the result goes to
  `<name>_summary.json`. `options` holds every declared flag's value (given or default), checked."""
  run: Callable[..., dict]
  help: str
  flags: dict = dataclasses.field(default_factory=dict)    # flag name -> ModeFlag


def examples_per_step(config, spec) -> tuple[str, int]:
  del spec
  return "examples", config.train.batch_size


def no_extra_meta(config) -> dict:
  del config
  return {}


def checkpoint_meta(config, workload: "Workload", data: Data) -> dict:
  """What a checkpoint must agree with to be restored, beyond its array shapes: the workload,
  the model, what the data gives the arrays meaning by (vocabulary, environment spaces,
  features, input shape, normalisation), the workload's own keys and, under "training", the
  optimizers and the EMA (not needed to evaluate or sample)."""
  meta = {"workload": config.workload, **workload.checkpoint_meta(config), "data": data.facts()}
  if "model" in config:
    meta["model"] = config.model.to_dict()
  optimizers = {name: config[name].to_dict() for name, declaration in workload.sections.items()
                if set(declaration) == set(shared_sections.OPTIMIZER)}
  meta["training"] = {**optimizers, "train.ema_decay": config.train.ema_decay}
  return as_json(meta)


def as_json(value):
  """Through JSON, so tuples compare equal to the lists a restored checkpoint holds."""
  return json.loads(json.dumps(value))


@dataclasses.dataclass(frozen=True)
class Workload:
  """A workload: its config sections, its data, its state and its pure functions (module docstring)."""
  # Config sections besides `model`: name -> declaration (config/sections.py).
  sections: dict
  make_data: Callable[..., Data]                     # (config, mesh) -> Data
  num_train_steps: Callable[..., int]                # (config, spec) -> updates of a whole run
  init_state: Callable[..., Any]
  train_step: Callable[..., Any]
  eval_step: Callable[..., dict]
  summarize: Callable[..., dict]
  report: Callable[..., Report]
  # Makes each step's batch on device when the data has no host batches (None there: batch = {}).
  gather_batch: Optional[Callable[..., Any]] = None
  # Splits evaluated during training (the first as val/<metric>) and at the end (the summary's "test").
  eval_splits: tuple = ("validation",)
  final_split: str = "test"
  # Metrics whose every element must be finite before a checkpoint of their step is written.
  guarded_metrics: tuple = ("loss",)
  # Train metrics drawn in training_curves.png besides those with a val/ twin.
  curve_metrics: tuple = ()
  # (config, spec) -> (unit, units per train step), logged as train/<unit>_per_sec.
  throughput: Callable[..., tuple] = examples_per_step
  # (config) -> the workload's own config values a checkpoint must match (`checkpoint_meta` above adds
  # the model, the data's facts, the optimizers and the EMA).
  checkpoint_meta: Callable[[Any], dict] = no_extra_meta
  # State paths `init_from` fills from another run (arrays matched by path and shape); () = refused.
  transfer_fields: tuple = ("params",)
  # (config, mesh) -> PartitionSpec, or dict of them, of device_arrays (None = replicated).
  data_layout: Optional[Callable[..., Any]] = None
  # Extra --mode values. An "eval" entry replaces the built-in evaluation (e.g. RL episodes).
  modes: dict = dataclasses.field(default_factory=dict)          # name -> Mode
  # Checks of keys tighter than their section's (e.g. "train.num_steps": POSITIVE_INT for a
  # workload that has no epochs): dotted key -> Check, or fn(key, value) raising ConfigError.
  config_checks: dict = dataclasses.field(default_factory=dict)
  # Declared keys this workload does not read: refused when set away from their default.
  unused_keys: tuple = ()
  # A train metric that ends the run once every element of it is nonzero at some step (k-means
  # "converged"); the workload makes the steps after that one no-ops.
  stop_metric: str = ""
  # fn(run, state, step, writer) after each evaluation during training (e.g. a sample grid image).
  on_evaluation: Optional[Callable[..., None]] = None
  # (config, spec) -> model FLOPs per throughput unit; with it the loop also logs train/mfu.
  flops_per_unit: Optional[Callable[..., float]] = None


def with_common(**own) -> dict:
  """A workload's sections: the shared train/eval/checkpoint/mesh and its own (data, optimizer, ...);
  its own may replace a shared one (e.g. RL's `eval`, whose batch is episodes)."""
  return {**shared_sections.COMMON, **own}


# The one convention of every mode that reads or writes files: --input (a file, folder or .npy; ""
# = the test split) and --output ("" = <workdir>/<the mode's own file name>).
IO_FLAGS = {
    "input": ModeFlag(str, "a file, a folder or a .npy batch to run on (default: the test split)", v.STRING,
                      default=""),
    "output": ModeFlag(str, "where to write the result (default: a file or folder in --workdir)", v.STRING,
                       default=""),
}


def output_path(run, options, default_name: str) -> str:
  """--output, or <workdir>/<default_name>; its parent folder must exist."""
  path = options.get("output") or os.path.join(run.workdir, default_name)
  parent = os.path.dirname(os.path.abspath(path))
  if not os.path.isdir(parent):
    raise ConfigError(f"--output={path!r}: its folder {parent!r} does not exist")
  return path


def export_mode(make_inference: Callable) -> Mode:
  """The Mode a workload registers as "export"; `make_inference(run, state) -> export.Inference`."""
  def run_mode(run, state, options):
    return export.write_artefact(run, state, output_path(run, options, "export"), make_inference)
  return Mode(run_mode, "the inference function and weights as a jax.export artefact folder (default "
              "<workdir>/export)", {"output": IO_FLAGS["output"]})
