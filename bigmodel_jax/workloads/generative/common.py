"""What the generative workloads (`gan`, `vae`) share: data in [-1, 1], sample grids, the
latent interpolation strip, the quality scores and `--mode=sample`.

A workload passes its `generate(state, z, *, config, spec, ema) -> images in [-1, 1]`
(a pure function) to the functions here.
"""
import functools
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.data import pipeline
from bigmodel_jax.data.pipeline import load_supervised_data
from bigmodel_jax.engine import plots
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.workloads.base import Mode, ModeFlag, Report
from bigmodel_jax.workloads.generative import scores as generative_scores
from bigmodel_jax.workloads.supervised import workload as supervised

SAMPLES_DIR = "samples"
CLASS_ROWS_FILE = "class_rows.png"   # One row of generated images per class (report).

# The keys both generative workloads have besides their own.
GENERATIVE_SECTION = dict(
    classifier_workdir=("", v.STRING),       # A finished classifier run that scores samples ("" = no scores).
    score_samples=(5000, v.int_at_least(2)),  # Generated images per score, and the size of each real half.
    grid_rows=(10, v.POSITIVE_INT),          # Sample grids are grid_rows x grid_rows.
)

# The image data section, stored as is: the steps scale pixels to [-1, 1] themselves.
DATA_SECTION = {**pipeline.DATA_SECTION, "normalize": (
    False, v.Check("False (generative models see pixels scaled to [-1, 1])", lambda x: x is False))}


def make_data(config, mesh):
  """The classifier's image datasets as they are stored, in [0, 1] (the steps scale them to [-1, 1])."""
  del mesh
  data = load_supervised_data(config.data, config.train.batch_size, config.seed)
  n, test_size = config.generative.score_samples, len(data.splits["test"][0])
  if config.generative.classifier_workdir:
    if 2 * n > test_size:
      raise ConfigError(f"generative.score_samples={n}: the floor needs two disjoint real halves of "
                        f"the {test_size} test images; use at most {test_size // 2}")
    # Checked now, not after training: a missing classifier is one line with the command that trains it.
    generative_scores.cached_scorer(config.generative.classifier_workdir, tuple(data.spec.input_shape))
  return data


def to_unit(images):
  """[-1, 1] -> [0, 1]."""
  return np.clip((np.asarray(images, np.float32) + 1.0) / 2.0, 0.0, 1.0)


def latents(config, n: int, purpose: int):
  """n fixed N(0, I) latents: the same at every call for one seed and purpose (grid, scores, ...)."""
  key = jax.random.fold_in(jax.random.PRNGKey(config.seed), 1000 + purpose)
  return jax.random.normal(key, (n, config.model.latent_size), jnp.float32)


def generate_images(run, state, z, generate, *, ema: bool = True, batch_size: int = 500) -> np.ndarray:
  """Images in [-1, 1] for the latents `z`, generated in batches by one jitted function."""
  key = ("generate", generate, ema)   # One jitted function per run and weights.
  if key not in run.cache:
    run.cache[key] = jax.jit(functools.partial(generate, config=run.config, spec=run.data.spec, ema=ema))
  fn, n = run.cache[key], len(z)
  z = jnp.concatenate([z, jnp.zeros((-n % batch_size, z.shape[1]), z.dtype)])   # One shape: one compile.
  return np.concatenate([np.asarray(fn(state, z[i:i + batch_size])) for i in range(0, len(z), batch_size)])[:n]


def on_evaluation(run, state, step: int, writer, *, generate) -> None:
  """The fixed-latent sample grid of `step` (samples/step_<step>.png, TensorBoard `samples`) and,
  with a classifier, the Fréchet distance of the generated images to real ones (`val/fd`)."""
  rows = run.config.generative.grid_rows
  images = to_unit(generate_images(run, state, latents(run.config, rows * rows, 0), generate))
  if run.is_writer:
    os.makedirs(os.path.join(run.workdir, SAMPLES_DIR), exist_ok=True)
    grid = plots.save_image_grid(images, os.path.join(run.workdir, SAMPLES_DIR, f"step_{step:07d}.png"), rows)
    writer.write_images(step, "samples", grid)
  if run.config.generative.classifier_workdir:
    scorer, real_features = _scorer_and_real_features(run)
    fake = scorer.features_and_probs(to_unit(generate_images(
        run, state, latents(run.config, run.config.generative.score_samples, 2), generate)))
    writer.write(step, {"val/fd": generative_scores.frechet_distance(real_features[0][0], fake[0]),
                        **coverage_metrics(real_features[0][0], fake, run.data.class_names, "val/")})


def class_frequency_table(probs_NxK, class_names) -> dict:
  """{class name: share of the images the classifier assigns to it}."""
  freqs = generative_scores.class_frequencies(probs_NxK)
  names = class_names or [str(i) for i in range(len(freqs))]
  return {name: float(f) for name, f in zip(names, freqs)}


def _metric_name(class_name: str) -> str:
  return "".join(ch if ch.isalnum() else "_" for ch in class_name)


def coverage_metrics(real_features, fake, class_names, prefix: str) -> dict:
  """Class score, precision, recall, the rarest class's share and every class's share (flat, for
  TensorBoard and metrics.jsonl) of generated (features, probabilities) against real features."""
  features, probs = fake
  table = class_frequency_table(probs, class_names)
  out = {f"{prefix}class_score": generative_scores.class_distribution_score(probs),
         **{f"{prefix}{k}": x for k, x in generative_scores.precision_recall(real_features, features).items()},
         f"{prefix}min_class_frequency": min(table.values())}
  out.update({f"{prefix}class_frequency/{i}_{_metric_name(name)}": f for i, (name, f) in enumerate(table.items())})
  return out


def _scorer_and_real_features(run):
  """The classifier and its (features, probabilities) of two disjoint halves of the test images."""
  cfg, spec = run.config.generative, run.data.spec
  scorer = generative_scores.cached_scorer(cfg.classifier_workdir, tuple(spec.input_shape))
  if "real_features" not in run.cache:
    n, real = cfg.score_samples, run.data.splits["test"][0]
    order = np.random.default_rng(0).permutation(len(real))
    run.cache["real_features"] = [scorer.features_and_probs(real[order[i * n:(i + 1) * n]]) for i in range(2)]
  return scorer, run.cache["real_features"]


def interpolation_strip(run, state, generate, path: str, pairs: int = 6, steps: int = 10) -> None:
  """Rows of images generated along straight lines between pairs of fixed latents."""
  ends = latents(run.config, 2 * pairs, 1)
  t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
  z = ((1 - t) * ends[:pairs, None] + t * ends[pairs:, None]).reshape(pairs * steps, -1)
  images = to_unit(generate_images(run, state, z, generate))
  if run.is_writer:
    plots.save_image_grid(images, path, steps)


def quality_scores(run, state, generate, init_state) -> dict:
  """Fréchet distance and class-distribution score of real halves (floor), the untrained model and
  the trained one (its EMA weights where kept, and the raw weights too)."""
  cfg = run.config.generative
  n, spec = cfg.score_samples, run.data.spec
  scorer, (real_a, real_b) = _scorer_and_real_features(run)
  untrained = jax.jit(functools.partial(init_state, config=run.config, spec=spec))(
      jax.random.PRNGKey(run.config.seed), run.device_data)
  z = latents(run.config, n, 2)
  sets = {"real_vs_real": real_b, "untrained": None, "trained": None, "trained_raw_weights": None}
  models = {"untrained": (untrained, True), "trained": (state, True), "trained_raw_weights": (state, False)}
  for name, (s, ema) in models.items():
    sets[name] = scorer.features_and_probs(to_unit(generate_images(run, s, z, generate, ema=ema)))
  fd = {name: generative_scores.frechet_distance(real_a[0], f) for name, (f, _) in sets.items()}
  score = {name: generative_scores.class_distribution_score(p) for name, (_, p) in sets.items()}
  score["real_a"] = generative_scores.class_distribution_score(real_a[1])
  names = run.data.class_names
  coverage = {name: {**generative_scores.precision_recall(real_a[0], f),
                     "class_frequencies": class_frequency_table(p, names)} for name, (f, p) in sets.items()}
  gap = fd["untrained"] - fd["real_vs_real"]
  closed = 1.0 - (fd["trained"] - fd["real_vs_real"]) / gap if gap > 0 else float("nan")
  return {"frechet_distance": fd, "class_score": score, "fd_gap_closed": closed, "coverage": coverage,
          "score_samples": n, "classifier_workdir": cfg.classifier_workdir,
          "trained_images": (sets["trained"][1], z)}


def save_class_rows(run, state, generate, probs_NxK, z, path: str) -> dict:
  """A grid with one row per class: generated images the classifier assigns to that class (the most
  confident first), labelled with the class and its count, so a missing class is an empty row."""
  import matplotlib.pyplot as plt   # Heavy; only the final report draws this.
  cols, names = run.config.generative.grid_rows, run.data.class_names
  predicted = np.argmax(probs_NxK, axis=1)
  confidence = np.max(probs_NxK, axis=1)
  num_classes = probs_NxK.shape[1]
  counts = np.bincount(predicted, minlength=num_classes)
  chosen = [np.flatnonzero(predicted == c)[np.argsort(-confidence[predicted == c])][:cols]
            for c in range(num_classes)]
  images = to_unit(generate_images(run, state, z[np.concatenate(chosen).astype(int)], generate))
  if run.is_writer:
    fig, axes = plt.subplots(num_classes, 1, figsize=(cols * 0.6 + 2.5, num_classes * 0.7), squeeze=False)
    start = 0
    for c, ax in enumerate(axes[:, 0]):
      row = images[start:start + len(chosen[c])]
      start += len(chosen[c])
      blank = np.ones((cols,) + images.shape[1:], np.float32)
      blank[:len(row)] = row
      tile = blank.transpose(1, 0, 2, 3).reshape(images.shape[1], -1, images.shape[3])
      ax.imshow(np.repeat(tile, 3, -1) if tile.shape[-1] == 1 else tile, vmin=0, vmax=1)
      ax.set_xticks([])
      ax.set_yticks([])
      name = names[c] if names else str(c)
      ax.set_ylabel(f"{name}\n{counts[c]}", rotation=0, ha="right", va="center", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
  return {(names[c] if names else str(c)): int(counts[c]) for c in range(num_classes)}


def report(run, state, outputs, *, generate, init_state) -> Report:
  """Final grid, interpolation strip and quality scores (into summary.json; FD and the gap also as
  final metrics)."""
  del outputs
  write_grid_final = os.path.join(run.workdir, "samples.png")
  rows = run.config.generative.grid_rows
  images = to_unit(generate_images(run, state, latents(run.config, rows * rows, 0), generate))
  if run.is_writer:
    plots.save_image_grid(images, write_grid_final, rows)
  interpolation_strip(run, state, generate, os.path.join(run.workdir, "interpolation.png"))
  if not run.config.generative.classifier_workdir:
    return Report()
  scores = quality_scores(run, state, generate, init_state)
  probs, z = scores.pop("trained_images")
  save_class_rows(run, state, generate, probs, z, os.path.join(run.workdir, CLASS_ROWS_FILE))
  fd, trained = scores["frechet_distance"], scores["coverage"]["trained"]
  return Report(details=scores, metrics={
      "fd": fd["trained"], "fd_floor": fd["real_vs_real"], "fd_untrained": fd["untrained"],
      "fd_gap_closed": scores["fd_gap_closed"], "class_score": scores["class_score"]["trained"],
      "precision": trained["precision"], "recall": trained["recall"],
      "min_class_frequency": min(trained["class_frequencies"].values())})


# The PNG of --mode=sample shows at most this many of the images (all of them are in the .npy).
SAMPLE_GRID_MAX = 1024
SAMPLE_BATCH = 500


def _check_disk_room(path: str, needed: int, n: int) -> None:
  free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
  if needed > free:
    raise ConfigError(f"--num_samples={n} needs {needed / 2**30:.1f} GiB for {os.path.basename(path)} but "
                      f"{free / 2**30:.1f} GiB are free; at most {n * free // needed} fit")


def sample_mode(run, state, options, *, generate) -> dict:
  """--mode=sample --num_samples=N: N images from the latest checkpoint, generated and written to
  samples_<N>.npy (uint8) batch by batch, so N is bounded by the disk, not the memory (refused up
  front when it does not fit); the first SAMPLE_GRID_MAX are drawn in samples_<N>.png. Image i is the
  same for every N."""
  n, spec = options["num_samples"], run.data.spec
  png = os.path.join(run.workdir, f"samples_{n}.png")
  npy = os.path.join(run.workdir, f"samples_{n}.npy")
  shape = (n,) + tuple(spec.input_shape)
  _check_disk_room(npy, int(np.prod(shape)), n)
  key = jax.random.fold_in(jax.random.PRNGKey(run.config.seed), 4)
  out = np.lib.format.open_memmap(npy, mode="w+", dtype=np.uint8, shape=shape) if run.is_writer else None
  for start in range(0, n, SAMPLE_BATCH):
    rows = min(SAMPLE_BATCH, n - start)
    # Whole batches of latents, so image i is the same whatever N is.
    batch_key = jax.random.fold_in(key, start // SAMPLE_BATCH)
    z = jax.random.normal(batch_key, (SAMPLE_BATCH, run.config.model.latent_size))[:rows]
    images = np.round(to_unit(generate_images(run, state, z, generate)) * 255).astype(np.uint8)
    if out is not None:
      out[start:start + rows] = images
  if out is not None:
    out.flush()
    shown = np.asarray(out[:SAMPLE_GRID_MAX], np.float32) / 255
    plots.save_image_grid(shown, png, int(np.ceil(np.sqrt(len(shown)))))
  return {"num_samples": n, "png": png, "npy": npy, "shape": list(shape)}


def modes(generate) -> dict:
  """The generative workloads' modes, for their `generate` function."""
  return {"sample": Mode(functools.partial(sample_mode, generate=generate),
                         "N images from the latest checkpoint: samples_<N>.png and samples_<N>.npy (uint8)",
                         {"num_samples": ModeFlag(int, "images to generate", v.POSITIVE_INT, default=100)})}


num_train_steps = supervised.num_train_steps


def tiny(config) -> None:
  """Every generative config's `:tiny` (tests, laptops): 16x16 synthetic images, 12 steps, no scores;
  the config narrows its own nets."""
  config.data.update(name="synthetic", validation_size=64)
  sections.short_run(config, num_steps=12, batch_size=16, log_every=3, eval_every=6, checkpoint_every=6)
  config.eval.batch_size = 32
  config.generative.update(classifier_workdir="", score_samples=32, grid_rows=4)
