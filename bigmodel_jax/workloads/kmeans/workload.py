"""K-Means clustering on the shared path: one train step is one Lloyd (or mini-batch) iteration.

The state holds the centroids of `kmeans.n_init` restarts, fitted side by side, with
their counts, last inertia, iteration count and a converged flag. `init_state` seeds
them with greedy k-means++ on the device-resident points. A converged restart stops
moving; once all have, a step is a no-op and the trainer stops the run
(`stop_metric="converged"`), so `train.steps_per_dispatch` iterations can run as one
dispatch. Evaluation assigns every point of a split to its nearest centroid; the
restart with the lowest inertia is the result.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import PartitionSpec as P

from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.engine import export
from bigmodel_jax.engine.parallel import DATA_AXIS
from bigmodel_jax.workloads.base import IO_FLAGS, Mode, Report, Workload, export_mode, output_path, with_common
from bigmodel_jax.workloads.kmeans import ops as km
from bigmodel_jax.workloads.kmeans import plots as kmeans_plots
from bigmodel_jax.workloads.kmeans import points

KMEANS_SECTION = dict(
    num_clusters=(10, v.POSITIVE_INT),       # k.
    n_init=(1, v.POSITIVE_INT),              # Restarts fitted side by side; the lowest inertia is kept.
    algorithm=("lloyd", v.one_of("lloyd", "minibatch")),   # lloyd (all points) | minibatch (train.batch_size).
    init=("k-means++", v.one_of("k-means++", "random")),  # k-means++ (greedy) | random (distinct points).
    num_candidates=(0, v.NON_NEGATIVE_INT),  # k-means++ candidates per centre; 0 = 2 + ln(k).
    block_rows=(2048, v.NON_NEGATIVE_INT),   # Rows per block of a device's pass (0 = all at once); see ops.py.
    # Converged when the summed squared centre shift <= tol x mean feature variance (scikit-learn's
    # definition; its default is 1e-4).
    tol=(5e-2, v.NON_NEGATIVE),
)

# One train step is one iteration: train.num_steps is the most iterations (scikit-learn's max_iter),
# all of them one dispatch, each logged; the whole data is one evaluation batch where it fits.
TRAIN_SECTION = sections.with_defaults(sections.TRAIN, num_steps=300, steps_per_dispatch=300, log_every_steps=1,
                                       progress_bar=False)
EVAL_SECTION = sections.with_defaults(sections.EVAL, batch_size=10_000)
CHECKPOINT_SECTION = sections.with_defaults(sections.CHECKPOINT, every_steps=300, keep=1)


def make_data(config, mesh):
  return points.load_points(config, mesh)


def num_train_steps(config, spec) -> int:
  del spec
  return config.train.num_steps   # The most iterations; convergence usually ends the run sooner.


def init_state(rng, device_data, *, config, spec) -> dict:
  x, w, x_sq = device_data["points"], device_data["weights"], device_data["sq_norms"]
  rngs = jax.random.split(rng, spec.n_init)
  if config.kmeans.init == "k-means++":
    candidates = config.kmeans.num_candidates or km.default_num_candidates(spec.num_clusters)
    seed = lambda r: km.kmeans_plus_plus(r, x, w, x_sq, spec.num_clusters, candidates)
  else:  # "random": distinct real points, uniformly.
    seed = lambda r: x[jax.random.choice(r, spec.num_points, (spec.num_clusters,), replace=False)]
  centroids = jax.vmap(seed)(rngs)
  i, k = spec.n_init, spec.num_clusters
  return {"centroids": centroids, "counts": jnp.zeros((i, k), jnp.float32),
          "inertia": jnp.zeros((i,), jnp.float32), "converged": jnp.zeros((i,), bool),
          "n_iter": jnp.zeros((i,), jnp.int32)}


def gather_batch(device_data, step, rng, *, config, spec) -> dict:
  """Lloyd: every point (no copy). Mini-batch: train.batch_size real points drawn at random."""
  del step
  if not spec.minibatch:
    return device_data
  rows = jax.random.randint(rng, (config.train.batch_size,), 0, spec.num_points)
  batch = {name: a[rows] for name, a in device_data.items()}
  return jax.lax.with_sharding_constraint(batch, P(DATA_AXIS))


def _iterate(state, batch, spec, block_rows):
  c = state["centroids"]
  sums, counts, inertia, far = km.cluster_stats(batch["points"], batch["weights"], batch["sq_norms"], c,
                                                sharded=True, block_rows=block_rows)
  if spec.minibatch:
    new_c, seen = km.minibatch_centroids(c, state["counts"], sums, counts)
    inertia = inertia * (spec.num_points / batch["points"].shape[0])   # Estimate for all points.
  else:
    new_c, seen = km.lloyd_centroids(sums, counts, far), counts
  shift = jnp.sum(jnp.square(new_c - c), axis=(1, 2))
  active = ~state["converged"]
  new_state = {
      "centroids": jnp.where(active[:, None, None], new_c, c),
      "counts": jnp.where(active[:, None], seen, state["counts"]),
      "inertia": jnp.where(active, inertia, state["inertia"]),
      "converged": state["converged"] | (shift <= spec.tol_abs),
      "n_iter": state["n_iter"] + active.astype(jnp.int32),
  }
  metrics = {"inertia": new_state["inertia"], "center_shift": jnp.where(active, shift, 0.0),
             "empty_clusters": jnp.sum(counts == 0, axis=1).astype(jnp.float32) * active,
             "converged": jnp.all(new_state["converged"])}
  return new_state, metrics


def train_step(state, batch, rng, *, config, spec):
  """One iteration of every restart not yet converged; a no-op once all have."""
  del rng

  def finished(state):
    zeros = jnp.zeros_like(state["inertia"])
    return state, {"inertia": state["inertia"], "center_shift": zeros, "empty_clusters": zeros,
                   "converged": jnp.array(True)}

  iterate = lambda s: _iterate(s, batch, spec, config.kmeans.block_rows)
  return jax.lax.cond(jnp.all(state["converged"]), finished, iterate, state)


def nearest_centroids(centroids_IxKxD, x_BxD):
  """(labels [B, I], squared distances [B, I]) of a batch of points for every restart."""
  labels, d2 = km.assign(x_BxD, jnp.sum(x_BxD * x_BxD, axis=1), centroids_IxKxD)
  return labels.T, d2.T


def eval_step(state, batch, rng, *, config, spec) -> dict:
  del rng, config, spec
  labels, d2 = nearest_centroids(state["centroids"], batch["points"])
  out = {"cluster": labels, "sq_distance": d2}
  if "labels" in batch:
    out["target"] = batch["labels"]
  return out


def purity(clusters: np.ndarray, targets: np.ndarray) -> float:
  """Share of points whose cluster's most common label is their own."""
  table = cluster_label_table(clusters, targets, int(clusters.max()) + 1, int(targets.max()) + 1)
  return float(table.max(axis=1).sum() / len(targets))


def cluster_label_table(clusters, targets, num_clusters: int, num_labels: int) -> np.ndarray:
  """[cluster, label] counts."""
  table = np.zeros((num_clusters, num_labels), np.int64)
  np.add.at(table, (clusters, targets), 1)
  return table


def best_restart(outputs) -> int:
  return int(np.argmin(outputs["sq_distance"].sum(axis=0, dtype=np.float64)))


def summarize(outputs, *, config, data) -> dict:
  del config, data
  if not outputs:
    return {}
  best = best_restart(outputs)
  metrics = {"inertia": float(outputs["sq_distance"][:, best].sum(dtype=np.float64)), "best_restart": best}
  if "target" in outputs:
    from sklearn import metrics as skm
    clusters, targets = outputs["cluster"][:, best], outputs["target"]
    metrics["nmi"] = float(skm.normalized_mutual_info_score(targets, clusters))
    metrics["ari"] = float(skm.adjusted_rand_score(targets, clusters))
    metrics["purity"] = purity(clusters, targets)
  return metrics


def report(run, state, outputs) -> Report:
  """summary.json's inertia, n_iter, fit and compile seconds; centroid images and the
  cluster-vs-label matrix as PNGs; the fitted centroids as centroids.npy."""
  best = best_restart(outputs)
  host = jax.device_get({k: state[k] for k in ("centroids", "n_iter", "converged")})
  centroids = np.asarray(host["centroids"][best])
  t = run.timings
  fit = t["train_time_s"] - t.get("compile_time_s", 0.0) if "train_time_s" in t else None
  summary = {"inertia": float(outputs["sq_distance"][:, best].sum(dtype=np.float64)),
             "n_iter": int(host["n_iter"][best]), "converged": bool(host["converged"][best]),
             "fit_seconds": fit, "compile_seconds": t.get("compile_time_s")}
  details = {"n_iter_per_restart": host["n_iter"].tolist()}
  spec = run.data.spec
  if "target" in outputs:
    table = cluster_label_table(outputs["cluster"][:, best], outputs["target"], spec.num_clusters,
                                int(outputs["target"].max()) + 1)
    details["cluster_label_matrix"] = table.tolist()
  if run.is_writer:
    np.save(os.path.join(run.workdir, "centroids.npy"), centroids)
    if spec.image_shape is not None:
      kmeans_plots.plot_centroid_images(centroids, spec.image_shape, os.path.join(run.workdir, "centroids.png"))
    if "target" in outputs:
      kmeans_plots.plot_cluster_label_matrix(table, run.data.class_names,
                                             os.path.join(run.workdir, "cluster_label_matrix.png"))
  return Report(details=details, summary=summary)


def _mode_batches(run, options) -> tuple[int, object, str]:
  """(rows, batches, what they are) of --input, or of the test split by default."""
  size = run.config.eval.batch_size
  if options["input"]:
    rows, batches = points.input_batches(options["input"], run.data.spec.num_features, size)
    return rows, batches, options["input"]
  x = run.data.splits["test"][0]
  return len(x), points.point_batches(x, size), "the test split"


def _distances_by_batch(run, state, batches):
  """Squared distances of every real row to every centroid of the best restart, batch by batch."""
  best = int(np.argmin(jax.device_get(state["inertia"])))
  centroids = jax.device_get(state["centroids"])[best]
  fn = jax.jit(lambda c, xb: km.squared_distances(xb, jnp.sum(xb * xb, axis=1), c))
  for batch in batches:
    yield np.asarray(fn(centroids, batch["points"]))[batch["mask"]]


def _write_rows(run, path: str, rows: int, columns: tuple, dtype, chunks) -> str:
  """Streams `chunks` (row blocks) into `path` as one .npy without holding it all."""
  out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(rows,) + columns) if run.is_writer else None
  start = 0
  for chunk in chunks:
    if out is not None:
      out[start:start + len(chunk)] = chunk
    start += len(chunk)
  if out is not None:
    out.flush()
  return path


def predict(run, state, options) -> dict:
  """Nearest centroid of every row of --input (default the test split) -> predictions.npy."""
  rows, batches, source = _mode_batches(run, options)
  k = run.data.spec.num_clusters
  counts = np.zeros(k, np.int64)

  def labels():
    for d2 in _distances_by_batch(run, state, batches):
      chunk = np.argmin(d2, axis=1)
      counts[:] += np.bincount(chunk, minlength=k)
      yield chunk
  path = _write_rows(run, output_path(run, options, "predictions.npy"), rows, (), np.int64, labels())
  return {"input": source, "rows": rows, "cluster_sizes": counts.tolist(), "output": path}


def transform(run, state, options) -> dict:
  """Distances of every row of --input (default the test split) to the centroids -> transform.npy."""
  rows, batches, source = _mode_batches(run, options)
  k = run.data.spec.num_clusters
  distances = (np.sqrt(d2).astype(np.float32) for d2 in _distances_by_batch(run, state, batches))
  path = _write_rows(run, output_path(run, options, "transform.npy"), rows, (k,), np.float32, distances)
  return {"input": source, "shape": [rows, k], "output": path}


def inference(run, state) -> export.Inference:
  """Points (B, features) float32 -> the index of the nearest centroid of the best restart (B,) int32."""
  best = int(np.argmin(jax.device_get(state["inertia"])))
  centroids = np.asarray(jax.device_get(state["centroids"])[best])
  fn = lambda x_BxD: jnp.argmin(km.squared_distances(x_BxD, jnp.sum(x_BxD * x_BxD, axis=1), centroids),
                                axis=1).astype(jnp.int32)
  x = run.data.splits["test"][0] if "test" in run.data.splits else run.data.splits["train"][0]
  meta = {"input": "points (batch, features)", "output": "cluster index", "num_clusters": len(centroids)}
  return export.Inference(fn, (run.data.spec.num_features,), "float32", meta, np.asarray(x[:8], np.float32))


def throughput(config, spec) -> tuple:
  return "points", config.train.batch_size if spec.minibatch else spec.num_points


def data_layout(config, mesh) -> dict:
  del config, mesh
  return {"points": P(DATA_AXIS), "weights": P(DATA_AXIS), "sq_norms": P(DATA_AXIS)}


def checkpoint_meta(config) -> dict:
  return {f"kmeans.{k}": config.kmeans[k] for k in ("num_clusters", "n_init")}


INPUT_FLAG = IO_FLAGS   # --input: a .npy file of points or images; --output: the .npy written.

WORKLOAD = Workload(
    sections=with_common(data=points.DATA_SECTION, kmeans=KMEANS_SECTION, train=TRAIN_SECTION, eval=EVAL_SECTION,
                         checkpoint=CHECKPOINT_SECTION),
    make_data=make_data, num_train_steps=num_train_steps, init_state=init_state, train_step=train_step,
    eval_step=eval_step, summarize=summarize, report=report, gather_batch=gather_batch, eval_splits=(),
    final_split="train", guarded_metrics=("inertia",), curve_metrics=("inertia",), throughput=throughput,
    checkpoint_meta=checkpoint_meta, transfer_fields=("centroids",), data_layout=data_layout,
    modes={"predict": Mode(predict, "the nearest centroid of every row: predictions.npy", INPUT_FLAG),
           "transform": Mode(transform, "the distance of every row to every centroid: transform.npy", INPUT_FLAG),
           "export": export_mode(inference)},
    config_checks={"train.num_steps": v.POSITIVE_INT},
    unused_keys=("train.num_epochs", "train.ema_decay"),
    stop_metric="converged")
