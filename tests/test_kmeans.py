"""K-Means: the algorithm against NumPy, k-means++, empty clusters, and the workload end to end
(outputs, 1 device = 8, kill-and-resume = straight, modes, bad input) on the digits `:tiny` config."""
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.workloads.kmeans import ops as km
from bigmodel_jax.engine import parallel, trainer
from bigmodel_jax.workloads.kmeans import points
from bigmodel_jax.workloads.kmeans.points import PointsSpec
from bigmodel_jax.errors import ConfigError, DataError
from bigmodel_jax.workloads.kmeans import workload
from conftest import load_config, make_config, stop_and_resume


def _lloyd_numpy(x, c, iterations):
  """Brute-force Lloyd: every distance from the N x K x D differences; empty clusters keep their centre."""
  labels = None
  for _ in range(iterations):
    labels = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
    c = np.stack([x[labels == j].mean(0) if np.any(labels == j) else c[j] for j in range(len(c))])
  return labels, c


def _step_fn(spec):
  mesh = parallel.make_mesh(load_config("kmeans_digits", "tiny").mesh)
  step = jax.jit(lambda s, b: workload.train_step(s, b, None, config=load_config("kmeans_digits", "tiny"), spec=spec))
  return mesh, step


def _spec(n, d, k):
  return PointsSpec(num_points=n, padded_points=n, num_features=d, num_clusters=k, n_init=1,
                    minibatch=False, tol_abs=0.0)


def _state(c_IxKxD):
  i, k = c_IxKxD.shape[:2]
  return {"centroids": jnp.asarray(c_IxKxD), "counts": jnp.zeros((i, k)), "inertia": jnp.zeros((i,)),
          "converged": jnp.zeros((i,), bool), "n_iter": jnp.zeros((i,), jnp.int32)}


def _batch(x, pad=0):
  """All points, with `pad` weight-0 rows of zeros after them (as the device data is padded)."""
  x = np.concatenate([x, np.zeros((pad, x.shape[1]), np.float32)])
  return {"points": jnp.asarray(x), "weights": jnp.asarray(np.arange(len(x)) < len(x) - pad, jnp.float32),
          "sq_norms": jnp.asarray((x * x).sum(1))}


def test_lloyd_steps_on_8_devices_match_brute_force_numpy_with_one_all_reduce():
  rng = np.random.default_rng(0)
  x = np.concatenate([rng.normal(m, 1.0, size=(16, 3)) for m in (-4, 0, 4)]).astype(np.float32)  # 48 rows.
  c0 = x[[0, 1, 2, 40]]
  mesh, step = _step_fn(_spec(48, 3, 4))
  state = _state(c0[None])
  with parallel.mesh_context(mesh, load_config("kmeans_digits", "tiny").mesh):
    batch = jax.device_put(_batch(x), parallel.batch_sharding(mesh))
    hlo = step.lower(state, batch).compile().as_text()
    for _ in range(3):
      state, metrics = step(state, batch)
  # Sums, counts and inertia in one tuple all-reduce; all-gathers only in the empty-cluster branch.
  assert hlo.count("all-reduce(") + hlo.count("all-reduce-start(") == 1
  assert "(f32[1,4,3]{2,1,0}, f32[1,4]{1,0}, f32[1]{0}) all-reduce" in hlo
  labels, c3 = _lloyd_numpy(x, c0, 3)
  np.testing.assert_allclose(np.asarray(state["centroids"][0]), c3, rtol=1e-5, atol=1e-5)
  got_labels, d2 = workload.nearest_centroids(state["centroids"], jnp.asarray(x))
  np.testing.assert_array_equal(np.asarray(got_labels[:, 0]), np.argmin(((x[:, None] - c3[None]) ** 2).sum(-1), 1))
  np.testing.assert_allclose(np.asarray(d2[:, 0]).sum(), ((x - c3[got_labels[:, 0]]) ** 2).sum(), rtol=1e-4)
  # The step's inertia is that of the assignment to the centroids it started from.
  _, c2 = _lloyd_numpy(x, c0, 2)
  expected = ((x[:, None] - c2[None]) ** 2).sum(-1).min(1).sum()
  np.testing.assert_allclose(float(metrics["inertia"][0]), expected, rtol=1e-4)


def test_blocked_pass_equals_one_pass_for_two_restarts():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(1000, 5)).astype(np.float32)
  c = jnp.asarray(rng.normal(size=(2, 3, 5)).astype(np.float32))
  args = (jnp.asarray(x), jnp.asarray(rng.random(1000) < 0.9, jnp.float32), jnp.asarray((x * x).sum(1)), c)
  whole = jax.jit(km._local_stats)(*args)
  blocked = jax.jit(lambda *a: km._blocked_local_stats(*a, block_rows=128))(*args)   # 8 blocks of 125.
  for a, b in zip(whole, blocked, strict=True):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-3)
  assert whole[3].shape == (2, 1000)


def test_empty_cluster_moves_to_the_farthest_point():
  x = np.array([[0, 0], [0, 1], [1, 0], [10, 10], [10, 11]], np.float32)
  c0 = np.array([[0, 0], [10, 10], [100, 100]], np.float32)   # The third centre attracts nobody.
  mesh, step = _step_fn(_spec(5, 2, 3))
  with parallel.mesh_context(mesh, load_config("kmeans_digits", "tiny").mesh):
    state, metrics = step(_state(c0[None]), _batch(x, pad=3))   # 8 rows over 8 devices.
  c1 = np.asarray(state["centroids"][0])
  np.testing.assert_allclose(c1[0], [1 / 3, 1 / 3], rtol=1e-6)
  np.testing.assert_allclose(c1[1], [10, 10.5])
  # Farthest from its centre: (0, 1) and (1, 0) tie at 1; either way an actual data point, not NaN.
  assert any(np.array_equal(c1[2], p) for p in x[1:3]), c1[2]
  assert float(metrics["empty_clusters"][0]) == 1.0


def test_kmeans_plus_plus_picks_distinct_points_and_depends_on_the_seed():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(30, 4)).astype(np.float32)
  w, sq = jnp.ones(30), jnp.asarray((x * x).sum(1))
  pick = jax.jit(lambda r: km.kmeans_plus_plus(r, jnp.asarray(x), w, sq, 20, 3))
  a, b = np.asarray(pick(jax.random.PRNGKey(0))), np.asarray(pick(jax.random.PRNGKey(1)))
  rows = [int(np.argmin(((x - c) ** 2).sum(1))) for c in a]
  np.testing.assert_array_equal(a, x[rows])          # Every centre is a data point ...
  assert len(set(rows)) == 20                        # ... and no point twice.
  np.testing.assert_array_equal(a, np.asarray(pick(jax.random.PRNGKey(0))))
  assert not np.array_equal(a, b)


def test_minibatch_gets_close_to_the_generating_centres(tmp_path):
  config = load_config("kmeans_fashion_mnist", "tiny")
  config.data.update(name="blobs", num_points=800, num_features=2, num_blobs=4)
  config.kmeans.update(num_clusters=4, algorithm="minibatch", tol=0.0, n_init=2)
  config.train.update(batch_size=64, num_steps=40, steps_per_dispatch=20)
  mini = trainer.train_and_evaluate(config, str(tmp_path / "mini"))
  assert mini["step"] == 40 and not mini["converged"]
  # The inertia of the centres the blobs were drawn around (unit variance: about N x D).
  rng = np.random.default_rng(config.data.blobs_seed)
  centres = rng.uniform(-10, 10, size=(4, 2))
  (x, labels), _ = points.blobs_splits(config.data)[0]["train"], None
  generating = float(((x - centres[labels]) ** 2).sum())
  assert mini["inertia"] < 1.05 * generating
  assert len(mini["test_details"]["n_iter_per_restart"]) == 2


@pytest.fixture(scope="module")
def kmeans_run(tmp_path_factory):
  """One straight digits :tiny run on 8 devices: (workdir, summary)."""
  workdir = tmp_path_factory.mktemp("kmeans")
  return workdir, trainer.train_and_evaluate(load_config("kmeans_digits", "tiny"), str(workdir))


def _centroids(workdir):
  return np.load(os.path.join(workdir, "centroids.npy"))


def test_run_outputs_and_early_stop(kmeans_run):
  root = kmeans_run[0]
  for name in ("summary.json", "metrics.jsonl", "centroids.png", "cluster_label_matrix.png", "centroids.npy"):
    assert os.path.getsize(root / name) > 0, name
  written = json.loads((root / "summary.json").read_text())
  assert written["converged"] and written["step"] == written["n_iter"] < 30   # Stopped at convergence.
  assert written["fit_seconds"] > 0 and written["compile_seconds"] > 0
  assert written["inertia"] == pytest.approx(written["test"]["inertia"])
  assert 0.5 < written["test"]["nmi"] <= 1 and 0.3 < written["test"]["ari"] <= 1
  assert 0.5 < written["test"]["purity"] <= 1
  assert np.sum(written["test_details"]["cluster_label_matrix"]) == 1438
  rows = [json.loads(line) for line in (root / "metrics.jsonl").read_text().splitlines()]
  inertia = [r["train/inertia"] for r in rows if "train/inertia" in r]
  assert [r["step"] for r in rows] == list(range(1, written["step"] + 1))   # One row per iteration.
  assert all(b <= a * (1 + 1e-6) for a, b in zip(inertia, inertia[1:]))    # Lloyd never goes up.


def test_rerunning_a_converged_run_keeps_it(kmeans_run):
  workdir, straight = kmeans_run
  again = trainer.train_and_evaluate(load_config("kmeans_digits", "tiny"), str(workdir))
  assert again["step"] == straight["step"] and again["stopped_by"] == "converged"
  assert again["wall_time_s"] == straight["wall_time_s"]   # summary.json as it was.


@pytest.mark.slow
def test_one_device_equals_eight(kmeans_run, tmp_path):
  one = trainer.train_and_evaluate(make_config("kmeans_digits", **{"mesh.data": 1}), str(tmp_path))
  assert one["n_iter"] == kmeans_run[1]["n_iter"]
  np.testing.assert_allclose(_centroids(tmp_path), _centroids(kmeans_run[0]), rtol=1e-5, atol=1e-6)


def test_kill_and_resume_equals_straight_run(kmeans_run, tmp_path):
  workdir, straight = kmeans_run
  resumed = stop_and_resume(lambda: load_config("kmeans_digits", "tiny"), str(tmp_path), step=4)
  assert resumed["step"] == straight["step"]
  np.testing.assert_array_equal(_centroids(tmp_path), _centroids(workdir))
  assert resumed["inertia"] == straight["inertia"]


def test_predict_and_transform_modes(kmeans_run, tmp_path):
  workdir, config = str(kmeans_run[0]), load_config("kmeans_digits", "tiny")
  predicted = trainer.train_and_evaluate(config, workdir, mode="predict")
  assert predicted["rows"] == 359 and sum(predicted["cluster_sizes"]) == 359
  labels = np.load(os.path.join(workdir, "predictions.npy"))
  centroids = _centroids(workdir)
  x = np.load(os.path.join(workdir, "centroids.npy"))[:2] + 0.01     # Two rows next to centroids 0 and 1.
  np.save(tmp_path / "two.npy", x)
  distances = trainer.train_and_evaluate(config, workdir, mode="transform", options={"input": str(tmp_path / "two.npy")})
  assert distances["shape"] == [2, 10]
  features = np.load(os.path.join(workdir, "transform.npy"))
  np.testing.assert_allclose(features, np.sqrt(((x[:, None] - centroids[None]) ** 2).sum(-1)), rtol=1e-3, atol=1e-4)
  assert labels.shape == (359,) and labels.max() < 10
  np.save(tmp_path / "wide.npy", np.zeros((3, 65), np.float32))
  with pytest.raises(DataError, match="65 features per row, but the centroids have 64"):
    trainer.train_and_evaluate(config, workdir, mode="predict", options={"input": str(tmp_path / "wide.npy")})


@pytest.mark.parametrize("change, error, match", [
    ({"kmeans.num_clusters": 2000}, ConfigError, "exceeds the 1438 points"),
    ({"kmeans.num_clusters": 0}, ConfigError, "kmeans.num_clusters=0 is not allowed"),
    ({"data.name": "npy", "data.path": "NAN"}, DataError, "1 NaN or infinite value"),
    ({"data.name": "npy", "data.path": "EMPTY"}, DataError, "is empty"),
])
def test_bad_input_is_one_line(tmp_path, change, error, match):
  np.save(tmp_path / "nan.npy", np.array([[0.0, 1.0], [np.nan, 2.0], [3.0, 4.0]], np.float32))
  np.save(tmp_path / "empty.npy", np.zeros((0, 3), np.float32))
  files = {"NAN": str(tmp_path / "nan.npy"), "EMPTY": str(tmp_path / "empty.npy")}
  config = make_config("kmeans_digits", **{key: files.get(value, value) for key, value in change.items()})
  with pytest.raises(error, match=match) as info:
    trainer.train_and_evaluate(config, str(tmp_path / "run"))
  assert "\n" not in str(info.value)


def test_clusters_the_features_of_a_trained_classifier(digits_run, tmp_path):
  config = make_config("kmeans_cnn_embeddings", **{"data.path": digits_run[0]})
  summary = trainer.train_and_evaluate(config, str(tmp_path / "kmeans"))
  assert summary["inertia"] > 0 and summary["test"]["nmi"] > 0.1
  assert np.load(tmp_path / "kmeans" / "centroids.npy").shape == (10, 64)   # cnn_digits: dense 64.
  with pytest.raises(ConfigError, match="holds no finished run"):
    trainer.train_and_evaluate(make_config("kmeans_cnn_embeddings", **{"data.path": str(tmp_path / "nothing")}),
                               str(tmp_path / "again"))
