"""Pieces of the shared path on their own: prefetching, NaN checks, FSDP specs, meshes, metric files."""
import json

import jax
import ml_collections
import numpy as np
import pytest
from flax import struct
from jax.sharding import PartitionSpec as P

from bigmodel_jax.engine import host, parallel, train_loop
from bigmodel_jax.errors import ConfigError, DataError, TrainingDiverged
from bigmodel_jax.engine.metric_writer import MetricWriter, read_metrics
from bigmodel_jax.workloads.base import Workload


def test_prefetch_keeps_order_and_reraises_errors():
  assert list(host.prefetch(iter(range(10)))) == list(range(10))

  def broken():
    yield 1
    raise DataError("disk gone")

  got = []
  with pytest.raises(DataError, match="disk gone"):
    for item in host.prefetch(broken()):
      got.append(item)
  assert got == [1]


def test_check_finite_names_the_step_element_and_last_checkpoint():
  train_loop.check_finite(3, "loss", np.ones((4, 2)), last_good=2)
  # Dispatch of steps 5..8 (first_step=4): the nan is at K index 2 -> step 7, seed 1.
  values = np.ones((4, 3))
  values[2, 1] = np.nan
  with pytest.raises(TrainingDiverged, match=r"loss is nan at step 7 \(element \(1,\)\).*step 5"):
    train_loop.check_finite(4, "loss", values, last_good=5)
  with pytest.raises(TrainingDiverged, match="d_loss is inf at step 1; .*none"):
    train_loop.check_finite(0, "d_loss", np.array([np.inf]), last_good=None)


def test_metric_window_guards_only_declared_metrics_and_reduces_a_seed_axis():
  window = train_loop.MetricWindow(guarded=("return",), last_good=None)
  # Two dispatches of K=2 steps, 3 seeds; grad_norm is not guarded, so its inf is only logged.
  window.push(0, {"return": np.array([[1.0, 2.0, 3.0], [3.0, 4.0, 5.0]]), "grad_norm": np.array([np.inf, 1.0])})
  window.push(2, {"return": np.array([[5.0, 6.0, 7.0], [7.0, 8.0, 9.0]]), "grad_norm": np.array([1.0, 1.0])})
  logged = window.reduce_and_reset()
  # Per seed, the mean over the 4 steps is 4, 5, 6.
  assert logged["return"] == pytest.approx(5.0)
  assert (logged["return_min"], logged["return_max"]) == pytest.approx((4.0, 6.0))
  assert logged["grad_norm"] == np.inf and "grad_norm_min" not in logged
  window.push(4, {"return": np.array([[1.0, np.nan, 1.0], [1.0, 1.0, 1.0]]), "grad_norm": np.ones(2)})
  with pytest.raises(TrainingDiverged, match=r"return is nan at step 5 \(element \(1,\)\)"):
    window.drain()


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


def _counter_workload(train_step, gather_batch=None):
  return Workload(sections={}, make_data=None, num_train_steps=None, init_state=None, train_step=train_step,
                  eval_step=None, summarize=None, report=None, gather_batch=gather_batch)


def _counter_train_fn(train_step, k: int, gather_batch=None, data_shardings=None):
  mesh = parallel.make_mesh(ml_collections.ConfigDict({"data": -1, "model": 1}))
  config = ml_collections.ConfigDict({"train": {"steps_per_dispatch": k}})
  return mesh, train_loop.make_train_fn(_counter_workload(train_step, gather_batch), config, None, mesh,
                                        Counter(step=parallel.replicated(mesh)), {}, data_shardings or {},
                                        host_batches=False)


@struct.dataclass
class Counter:
  step: jax.Array


def _draw(state, batch, rng, *, config, spec):
  del batch, config, spec
  return state.replace(step=state.step + 1), {"draw": jax.random.uniform(rng)}


def test_each_step_gets_its_own_randomness_and_k_per_dispatch_draws_the_same():
  mesh, one = _counter_train_fn(_draw, k=1)
  zero = lambda: jax.numpy.zeros((), jax.numpy.int32)   # Fresh buffers: the state is donated.
  state, rng, step, draws = Counter(step=zero()), jax.random.PRNGKey(0), zero(), []
  for _ in range(4):
    state, metrics, step = one(state, {}, {}, rng, step)
    draws.append(float(metrics["draw"][0]))
  assert len(set(draws)) == 4 and int(step) == 4
  # ...the same step always gets the same numbers (what makes resuming exact), and K=4 steps
  # in one dispatch draw exactly what 4 dispatches drew.
  _, four = _counter_train_fn(_draw, k=4)
  state4, metrics4, step4 = four(Counter(step=zero()), {}, {}, rng, zero())
  assert [float(x) for x in metrics4["draw"]] == draws
  assert int(state4.step) == 4 and int(step4) == 4


def test_device_resident_data_is_not_uploaded_again_per_dispatch():
  mesh = parallel.make_mesh(ml_collections.ConfigDict({"data": -1, "model": 1}))
  points = parallel.place_global({"x": np.arange(32.0).reshape(16, 2)}, mesh, P("data"))
  gather = lambda data, step, rng, *, config, spec: {"x": data["x"] * 1.0}

  def total(state, batch, rng, *, config, spec):
    return state.replace(step=state.step + 1), {"sum": batch["x"].sum()}

  _, fn = _counter_train_fn(total, k=2, gather_batch=gather,
                            data_shardings=jax.tree.map(lambda a: a.sharding, points))
  state = Counter(step=jax.device_put(jax.numpy.zeros((), jax.numpy.int32), parallel.replicated(mesh)))
  step = jax.device_put(jax.numpy.zeros((), jax.numpy.int32), parallel.replicated(mesh))
  rng = jax.device_put(jax.random.PRNGKey(0), parallel.replicated(mesh))
  state, metrics, step = fn(state, {}, points, rng, step)   # Compiles.
  with jax.transfer_guard_host_to_device("disallow"):
    for _ in range(3):
      state, metrics, step = fn(state, {}, points, rng, step)
  assert int(step) == 8 and float(metrics["sum"][0]) == float(np.arange(32.0).sum())
