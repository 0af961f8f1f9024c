r"""K-Means fit time and inertia, bigmodel_jax against scikit-learn, side by side in one process.

  python -m launch.benchmark_kmeans                     # Fashion-MNIST train, k = 10, seeds 0 1 2
  python -m launch.benchmark_kmeans --seeds=0,1,2,3,4 --repeats=3

Both fit the 60000 x 784 Fashion-MNIST train pixels (float32 in [0, 1]) with k = 10,
greedy k-means++ and one init. scikit-learn: `KMeans(n_clusters=10, n_init=1,
init="k-means++", random_state=seed).fit(x)`. bigmodel_jax: the kmeans workload's
own functions as the trainer builds them (`trainer.build_run` on
configs/kmeans_fashion_mnist.py): the k-means++ init, the trainer's jitted dispatch of
`train.steps_per_dispatch` Lloyd iterations (no-ops once converged) until the
converged flag is set, and the final inertia of all points. Our fit time counts those
three calls and nothing else; their compilation is timed apart (compile seconds). One
device: run it without simulated devices.
"""
import functools
import os
import statistics
import tempfile
import time

from absl import app, flags, logging

from launch import xla_flags

_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "random_state / seed values.")
_REPEATS = flags.DEFINE_integer("repeats", 1, "Fits per seed and side; the fastest is kept.")
_CONFIG = flags.DEFINE_string("config", "configs/kmeans_fashion_mnist.py", "Our side's config file.")


def _load_config(path: str, seed: int):
  import importlib.util
  spec = importlib.util.spec_from_file_location("kmeans_config", path)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  config = module.get_config()
  config.seed = seed
  return config


def fit_ours(config_path: str, seed: int, repeats: int) -> dict:
  """(fit seconds, compile seconds, inertia, iterations) of our k-means on the config's data."""
  import jax
  import jax.numpy as jnp
  from bigmodel_jax.engine import parallel, trainer
  from bigmodel_jax.workloads.kmeans import workload
  config = _load_config(config_path, seed)
  with tempfile.TemporaryDirectory() as workdir:
    run, _ = trainer.build_run(config, workdir)
    spec, data = run.data.spec, run.device_data
    with parallel.mesh_context(run.mesh, config.mesh):
      rng = jax.random.PRNGKey(seed)
      init = jax.jit(functools.partial(workload.init_state, config=config, spec=spec),
                     out_shardings=run.shardings)
      inertia_of = jax.jit(lambda c, d: jnp.sum(workload.km.assign(d["points"], d["sq_norms"], c)[1]
                                                * d["weights"], axis=1))
      train_rng = jax.random.PRNGKey(1)
      step0 = jnp.asarray(0, jnp.int32)
      start = time.perf_counter()
      init_c = init.lower(rng, data).compile()
      state0 = init_c(rng, data)
      train_c = run.train_fn.lower(state0, {}, data, train_rng, step0).compile()
      inertia_c = inertia_of.lower(state0["centroids"], data).compile()
      compile_s = time.perf_counter() - start
      best = None
      for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        state = init_c(rng, data)
        step = step0
        while True:
          state, metrics, step = train_c(state, {}, data, train_rng, step)
          if bool(metrics["converged"][-1]) or int(step) >= run.num_steps:
            break
        inertia = jax.block_until_ready(inertia_c(state["centroids"], data))
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        if best is None or seconds < best["fit_s"]:
          best = {"fit_s": seconds, "cpu_s": cpu, "compile_s": compile_s, "inertia": float(inertia.min()),
                  "n_iter": int(state["n_iter"].min())}
    run.checkpointer.close()
  return best


def fit_sklearn(x, seed: int, repeats: int) -> dict:
  from sklearn.cluster import KMeans
  best = None
  for _ in range(repeats):
    start, cpu = time.perf_counter(), time.process_time()
    km = KMeans(n_clusters=10, n_init=1, init="k-means++", random_state=seed).fit(x)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if best is None or seconds < best["fit_s"]:
      best = {"fit_s": seconds, "cpu_s": cpu, "inertia": float(km.inertia_), "n_iter": int(km.n_iter_)}
  return best


def main(argv):
  del argv
  xla_flags.set_defaults()
  logging.set_verbosity(logging.WARNING)   # Orbax's INFO lines.
  import jax
  import numpy as np
  import sklearn
  from bigmodel_jax.data.points import as_points
  from bigmodel_jax.data.sources import fashion_mnist
  import ml_collections
  raw = fashion_mnist(ml_collections.ConfigDict({"data_dir": ""}))
  x = np.ascontiguousarray(as_points(raw.train[0]))
  print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; our tol {_load_config(_CONFIG.value, 0).kmeans.tol}")
  print(f"data: {x.shape} {x.dtype}; jax {jax.__version__} on {jax.devices()}; scikit-learn {sklearn.__version__}")
  rows = []
  for seed in map(int, _SEEDS.value):
    ours = fit_ours(_CONFIG.value, seed, _REPEATS.value)
    theirs = fit_sklearn(x, seed, _REPEATS.value)
    rows.append((seed, ours, theirs))
    print(f"seed {seed}: ours {ours['fit_s']:.3f} s (CPU {ours['cpu_s']:.2f} s), inertia {ours['inertia']:.1f}, "
          f"{ours['n_iter']} iterations (compile {ours['compile_s']:.2f} s) | scikit-learn {theirs['fit_s']:.3f} s "
          f"(CPU {theirs['cpu_s']:.2f} s), inertia {theirs['inertia']:.1f}, {theirs['n_iter']} iterations", flush=True)
  med = lambda side, key: statistics.median(r[side][key] for r in rows)
  ours_t, sk_t = med(1, "fit_s"), med(2, "fit_s")
  ours_i, sk_i = med(1, "inertia"), med(2, "inertia")
  print(f"median fit: ours {ours_t:.3f} s, scikit-learn {sk_t:.3f} s -> {sk_t / ours_t:.2f}x faster")
  print(f"median inertia: ours {ours_i:.1f}, scikit-learn {sk_i:.1f} -> {100 * (ours_i / sk_i - 1):+.2f}%")
  print(f"median CPU seconds: ours {med(1, 'cpu_s'):.3f}, scikit-learn {med(2, 'cpu_s'):.3f}")
  print(f"median compile (ours, not in the fit time): {med(1, 'compile_s'):.2f} s")
  print(f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
  app.run(main)
