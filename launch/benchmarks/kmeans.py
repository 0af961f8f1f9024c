r"""K-Means fit time and inertia, ours against scikit-learn's KMeans, side by side in one process.

  python -m launch.benchmark kmeans                       # Fashion-MNIST train, k = 10, seeds 0 1 2
  python -m launch.benchmark kmeans --seeds=0,1,2,3,4 --repeats=3 --out=results/benchmarks/kmeans.json
  python -m launch.benchmark kmeans --config=configs/kmeans_fashion_mnist.py:tiny   # 600 blobs

Both fit the train points of --config (by default the 60000 x 784 Fashion-MNIST train
pixels, float32 in [0, 1]) with its `kmeans.num_clusters` (10), greedy k-means++ and one
init. scikit-learn: `KMeans(n_clusters, n_init=1, init="k-means++", random_state=seed)`
(`sklearn_kmeans.py`). Ours: the kmeans workload's own functions as the trainer builds
them (`trainer.build_run`): the k-means++ init, the trainer's jitted dispatch of
`train.steps_per_dispatch` Lloyd iterations (no-ops once converged) until the converged
flag is set, and the final inertia of all points. Our fit time counts those three calls
and nothing else; their compilation is timed apart (compile seconds). With --repeats
the two sides take turns and the fastest fit of each is kept. One device: run it
without simulated devices.

Same stopping rule: both stop when the summed squared centre shift is <= tol x the mean
feature variance; by default (--same_tol) ours runs at scikit-learn's tol 1e-4 rather than
the config's looser `kmeans.tol`, so the ratio compares the work, not where each stops.
Per iteration: each side's fit seconds / iterations, and ours' Lloyd dispatches alone /
iterations. The floor of one Lloyd iteration is measured in the same run: the larger of
one read pass over the points (a jitted column sum) and the two matmuls' FLOPs
(4 N D K) at the matmul rate of a 1024^3 float32 product.
"""
import functools
import statistics
import tempfile

from absl import flags

from launch.benchmarks import harness, sklearn_kmeans
from launch.benchmarks.kmeans_floor import iteration_floor, per_iteration

_CONFIG = harness.config_flag("configs/kmeans_fashion_mnist.py", "Our side's config; scikit-learn fits "
                              "the same train points")
_SEEDS = flags.DEFINE_list("seeds", ["0", "1", "2"], "random_state / seed values, one fit of each side per seed.")
_REPEATS = harness.repeats_flag()
_SAME_TOL = flags.DEFINE_bool("same_tol", True, "Fit ours at scikit-learn's tol (1e-4) instead of the config's "
                              "kmeans.tol; both use the same relative centre-shift rule.")


def compile_our_fit(run, seed: int):
  """(fit, compile seconds): `fit()` runs the init, the Lloyd dispatches and the final inertia,
  compiled ahead, and returns its fit seconds, CPU seconds, inertia and iterations."""
  import jax
  import jax.numpy as jnp

  from bigmodel_jax.workloads.kmeans import workload
  config, data = run.config, run.device_data
  rng, train_rng, step0 = jax.random.PRNGKey(seed), jax.random.PRNGKey(1), jnp.asarray(0, jnp.int32)
  init = jax.jit(functools.partial(workload.init_state, config=config, spec=run.data.spec),
                 out_shardings=run.shardings)
  inertia_of = jax.jit(lambda c, d: jnp.sum(workload.km.assign(d["points"], d["sq_norms"], c)[1]
                                            * d["weights"], axis=1))
  with harness.Stopwatch() as compiling:
    init_c = init.lower(rng, data).compile()
    state0 = init_c(rng, data)
    train_c = run.train_fn.lower(state0, {}, data, train_rng, step0).compile()
    inertia_c = inertia_of.lower(state0["centroids"], data).compile()

  def fit() -> dict:
    with harness.Stopwatch() as watch:
      state, step = jax.block_until_ready((init_c(rng, data), step0))
      with harness.Stopwatch() as lloyd:
        while True:   # One dispatch is train.steps_per_dispatch iterations; usually one suffices.
          state, metrics, step = train_c(state, {}, data, train_rng, step)
          if bool(metrics["converged"][-1]) or int(step) >= run.num_steps:
            break
      inertia = jax.block_until_ready(inertia_c(state["centroids"], data))
    n_iter = int(state["n_iter"].min())
    return {"fit_s": watch.seconds, "cpu_s": watch.cpu_seconds, "inertia": float(inertia.min()),
            "n_iter": n_iter, "lloyd_s": lloyd.seconds, "iteration_s": lloyd.seconds / max(n_iter, 1)}

  return fit, compiling.seconds


def fit_both(config, seed: int, repeats: int) -> tuple[dict, dict, tuple]:
  """The fastest of `repeats` fits of each side on seed `seed`, and the shape of the points."""
  from bigmodel_jax.engine import parallel, trainer
  config.seed = seed
  with tempfile.TemporaryDirectory() as workdir:
    run, _ = trainer.build_run(config, workdir)
    run.checkpointer.close()
    x = run.data.splits["train"][0]
    with parallel.mesh_context(run.mesh, config.mesh):
      ours, compile_s = compile_our_fit(run, seed)
      sides = {"ours": ours, "scikit-learn": lambda: sklearn_kmeans.fit(x, config.kmeans.num_clusters, seed,
                                                                        tol=sklearn_kmeans.TOL)}
      fastest = {}
      for _, side, fit in harness.take_turns(sides, repeats):
        if side not in fastest or fit["fit_s"] < fastest[side]["fit_s"]:
          fastest[side] = fit
  return {**fastest["ours"], "compile_s": compile_s}, fastest["scikit-learn"], x


def seed_line(seed: int, ours: dict, theirs: dict) -> str:
  return (f"seed {seed}: ours {ours['fit_s']:.3f} s (CPU {ours['cpu_s']:.2f} s), inertia {ours['inertia']:.1f}, "
          f"{ours['n_iter']} iterations, {1e3 * per_iteration(ours):.1f} ms/iteration, Lloyd alone "
          f"{1e3 * ours['iteration_s']:.1f} ms (compile {ours['compile_s']:.2f} s) | scikit-learn "
          f"{theirs['fit_s']:.3f} s (CPU {theirs['cpu_s']:.2f} s), inertia {theirs['inertia']:.1f}, "
          f"{theirs['n_iter']} iterations, {1e3 * per_iteration(theirs):.1f} ms/iteration")


def report_floor(report, x, config, ours_iteration_s: float) -> None:
  floor = iteration_floor(x, config.kmeans.num_clusters * config.kmeans.n_init)
  floor["ours_over_floor"] = ours_iteration_s / floor["floor_s"]
  report.note("iteration_floor", floor,
              f"floor of one iteration: read pass {1e3 * floor['read_s']:.1f} ms ({floor['read_gb_per_s']:.1f} GB/s), "
              f"matmuls {1e3 * floor['matmul_s']:.1f} ms at {floor['matmul_gflop_per_s']:.0f} GFLOP/s -> "
              f"{1e3 * floor['floor_s']:.1f} ms; ours (Lloyd alone) {1e3 * ours_iteration_s:.1f} ms = "
              f"{floor['ours_over_floor']:.2f}x the floor")


def run(argv):
  del argv
  import jax
  import sklearn
  config = harness.loaded_config(_CONFIG)
  if _SAME_TOL.value:
    config.kmeans.tol = sklearn_kmeans.TOL
  report = harness.Report("kmeans", config)
  report.note("versions", {"jax": jax.__version__, "scikit-learn": sklearn.__version__},
              f"jax {jax.__version__} on {jax.devices()}; scikit-learn {sklearn.__version__}; "
              f"our tol {config.kmeans.tol}")
  for seed in map(int, _SEEDS.value):
    ours, theirs, x = fit_both(config, seed, _REPEATS.value)
    if not report.record["rows"]:
      report.note("points", list(x.shape), f"data: {x.shape} float32, k = {config.kmeans.num_clusters}, "
                  f"tol: ours {config.kmeans.tol}, scikit-learn {sklearn_kmeans.TOL}")
    report.row({"seed": seed, "ours": ours, "scikit-learn": theirs}, seed_line(seed, ours, theirs))
  rows = report.record["rows"]
  median = lambda side, key: statistics.median(r[side][key] for r in rows)
  report.compare("median fit", ("ours", median("ours", "fit_s")), ("scikit-learn", median("scikit-learn", "fit_s")),
                 "s", lower_is_better=True)
  report.compare("median fit per iteration", ("ours", statistics.median(per_iteration(r["ours"]) for r in rows)),
                 ("scikit-learn", statistics.median(per_iteration(r["scikit-learn"]) for r in rows)), "s",
                 lower_is_better=True)
  ours_i, theirs_i = median("ours", "inertia"), median("scikit-learn", "inertia")
  report.note("median_inertia", {"ours": ours_i, "scikit-learn": theirs_i},
              f"median inertia: ours {ours_i:.1f}, scikit-learn {theirs_i:.1f} -> "
              f"{100 * (ours_i / theirs_i - 1):+.2f}%")
  report.compare("median CPU seconds", ("ours", median("ours", "cpu_s")),
                 ("scikit-learn", median("scikit-learn", "cpu_s")), "s", lower_is_better=True)
  report_floor(report, x, config, median("ours", "iteration_s"))
  report.note("median_compile_s", median("ours", "compile_s"),
              f"median compile (ours, not in the fit time): {median('ours', 'compile_s'):.2f} s")
  report.finish()
