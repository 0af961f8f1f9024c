"""Builds an experiment's config from the declarations, with only what the experiment changes.

  c = experiment("supervised", model=sections.model("cnn", kernel_size=3),
                 data=dict(name="fashion_mnist"), train=dict(batch_size=64, num_epochs=16))

Every section the workload declares (`Workload.sections`: the shared ones and its
own) is filled with its defaults, then the given changes; a section or key the
workload does not declare is a KeyError, reported by the launcher as one line.
"""
import ml_collections

from bigmodel_jax.config import sections
from bigmodel_jax.workloads import get_workload


def experiment(workload: str, *, seed: int = 0, init_from: str = "", model=None,
               **changes: dict) -> ml_collections.ConfigDict:
  """The whole config of an experiment of `workload`: top-level keys, `model` (if the workload has
  one; build it with `sections.model`) and every declared section with `changes[section]` applied."""
  declared = get_workload(workload).sections
  unknown = sorted(set(changes) - set(declared))
  if unknown:
    raise KeyError(f"workload {workload!r} has no config section(s) {unknown}; it has {sorted(declared)}")
  c = ml_collections.ConfigDict()
  c.workload, c.seed, c.init_from = workload, seed, init_from
  if model is not None:
    c.model = model
  for name, declaration in declared.items():
    c[name] = sections.section(declaration, f"section {name!r}", **changes.get(name, {}))
  return c

