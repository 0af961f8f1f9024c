"""Pieces of the shared path on their own: prefetching, NaN checks, FSDP specs, meshes, metric files."""
import json

import jax
import ml_collections
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from bigmodel_jax import parallel, trainer
from bigmodel_jax.errors import ConfigError, DataError, TrainingDiverged
from bigmodel_jax.metric_writer import MetricWriter, read_metrics


def test_prefetch_keeps_order_and_reraises_errors():
  assert list(trainer.prefetch(iter(range(10)))) == list(range(10))

  def broken():
    yield 1
    raise DataError("disk gone")

  got = []
  with pytest.raises(DataError, match="disk gone"):
    for item in trainer.prefetch(broken()):
      got.append(item)
  assert got == [1]


def test_check_finite_names_the_step_and_last_checkpoint():
  trainer.check_finite(3, {"loss": 1.0, "grad_norm": float("inf")}, last_good=2)  # Only losses count.
  with pytest.raises(TrainingDiverged, match="loss is nan at step 7.*step 5"):
    trainer.check_finite(7, {"loss": float("nan")}, last_good=5)
  with pytest.raises(TrainingDiverged, match="d_loss is inf at step 1.*none"):
    trainer.check_finite(1, {"d_loss": float("inf")}, last_good=None)


@pytest.mark.parametrize("shape, spec", [
    ((5, 5, 32, 64), P(None, None, None, "data")),   # Largest divisible dimension.
    ((1024, 100), P("data", None)),
    ((100, 1000), P(None, "data")),
    ((64,), P()),                                     # Too small to be worth splitting.
    ((99, 101), P()),                                 # Nothing divisible by 8.
])
def test_fsdp_spec_by_hand(shape, spec):
  assert parallel.fsdp_spec(shape, 8) == spec


def test_mesh_shapes_and_impossible_meshes():
  mesh = parallel.make_mesh(ml_collections.ConfigDict({"data": -1, "model": 2}))
  assert dict(mesh.shape) == {"data": 4, "model": 2}
  assert dict(parallel.make_mesh(ml_collections.ConfigDict({"data": 1, "model": 1})).shape) == {
      "data": 1, "model": 1}
  with pytest.raises(ConfigError, match="does not fit"):
    parallel.make_mesh(ml_collections.ConfigDict({"data": 3, "model": 3}))


def test_shard_batch_splits_rows_over_the_data_axis():
  mesh = parallel.make_mesh(ml_collections.ConfigDict({"data": -1, "model": 1}))
  batch = parallel.shard_batch({"x": np.arange(16.0).reshape(16, 1)}, mesh)
  shards = sorted(batch["x"].addressable_shards, key=lambda s: s.index[0].start)
  assert [s.data.shape for s in shards] == [(2, 1)] * 8
  np.testing.assert_array_equal(np.asarray(shards[1].data).ravel(), [2.0, 3.0])


def test_metric_writer_truncates_on_resume(tmp_path):
  writer = MetricWriter(str(tmp_path))
  for step in (10, 20, 30):
    writer.write(step, {"train/loss": step / 10})
  writer.close()
  # A run resumed from the step-20 checkpoint drops what it will log again.
  MetricWriter(str(tmp_path), resume_step=20).close()
  assert [row["step"] for row in read_metrics(str(tmp_path))] == [10, 20]
  assert json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[0])["train/loss"] == 1.0


def test_each_step_gets_its_own_randomness():
  from flax import struct

  @struct.dataclass
  class Counter:
    step: jax.Array

  def draw(state, batch, rng, *, config, spec):
    del batch, config, spec
    return state.replace(step=state.step + 1), {"draw": jax.random.uniform(rng)}

  workload = type("W", (), {"train_step": staticmethod(draw)})
  mesh = parallel.make_mesh(ml_collections.ConfigDict({"data": -1, "model": 1}))
  shardings = Counter(step=parallel.replicated(mesh))
  train_fn = trainer._jit_train_fn(workload, None, None, mesh, shardings)
  state, rng = Counter(step=jax.numpy.zeros((), jax.numpy.int32)), jax.random.PRNGKey(0)
  draws = []
  for _ in range(3):
    state, metrics = train_fn(state, {}, rng)
    draws.append(float(metrics["draw"]))
  assert len(set(draws)) == 3
  # ...and the same step always gets the same numbers (what makes resuming exact).
  _, again = train_fn(Counter(step=jax.numpy.ones((), jax.numpy.int32)), {}, rng)
  assert float(again["draw"]) == draws[1]
