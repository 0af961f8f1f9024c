"""--mode=explain: what the classifier looks at, and two checks that the maps mean something.

Maps (per pixel, |attribution| summed over channels) for the predicted class's logit:
vanilla gradient, SmoothGrad (the gradient averaged over noisy copies, Smilkov et al.
2017) and integrated gradients from a black image (Sundararajan et al. 2017). Checks:
with re-initialised weights the gradient maps must change (Spearman rank correlation
with the trained maps below RANDOMISATION_THRESHOLD, after Adebayo et al. 2018), and
integrated gradients must sum to the logit difference from the baseline (completeness)
within COMPLETENESS_TOLERANCE.
"""
import os

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from bigmodel_jax.engine import quantize
from bigmodel_jax.models import build_model

RANDOMISATION_THRESHOLD = 0.5     # Trained vs re-initialised maps: rank correlation below this.
COMPLETENESS_TOLERANCE = 0.01     # |sum(IG) - (f(x) - f(baseline))| / |f(x) - f(baseline)|.
SMOOTHGRAD_NOISE = 0.15           # Noise std as a fraction of the image's value range.


def make_logits_fn(model, model_state):
  def logits(params, x_HxWxC):
    return model.apply({"params": params, **model_state}, x_HxWxC[None], train=False)[0]
  return logits


def vanilla_gradient(logits, params, x, label):
  return jax.grad(lambda x: logits(params, x)[label])(x)


def smoothgrad(logits, params, x, label, rng, samples: int):
  sigma = SMOOTHGRAD_NOISE * (x.max() - x.min())
  noisy = x[None] + sigma * jax.random.normal(rng, (samples,) + x.shape)
  return jax.vmap(lambda n: vanilla_gradient(logits, params, n, label))(noisy).mean(0)


def integrated_gradients(logits, params, x, baseline, label, steps: int):
  """Midpoint Riemann sum of the gradient along the straight path, times (x - baseline)."""
  alphas = (jnp.arange(steps) + 0.5) / steps
  path = baseline[None] + alphas[:, None, None, None] * (x - baseline)[None]
  grads = jax.vmap(lambda p: vanilla_gradient(logits, params, p, label))(path)
  return (x - baseline) * grads.mean(0)


def completeness_error(logits, params, x, baseline, label, attribution):
  gap = logits(params, x)[label] - logits(params, baseline)[label]
  return jnp.abs(attribution.sum() - gap) / jnp.maximum(jnp.abs(gap), 1e-6)


def pixel_map(attribution_HxWxC):
  return jnp.abs(attribution_HxWxC).sum(-1)


def rank_correlation(a, b) -> float:
  return float(stats.spearmanr(np.ravel(a), np.ravel(b)).statistic)


def attribution_maps(logits, params, images, labels, baseline, rng, options):
  """(vanilla, smoothgrad, IG attributions, IG completeness errors) for each image."""
  def one(x, label, key):
    ig = integrated_gradients(logits, params, x, baseline, label, options["ig_steps"])
    return (vanilla_gradient(logits, params, x, label),
            smoothgrad(logits, params, x, label, key, options["smoothgrad_samples"]),
            ig, completeness_error(logits, params, x, baseline, label, ig))
  keys = jax.random.split(rng, len(images))
  return jax.jit(jax.vmap(one))(images, labels, keys)


def explain_run(run, state, options) -> dict:
  config, data = run.config, run.data
  model = classifier_model(config, data.spec)
  params = jax.device_get(state.eval_params())
  model_state = jax.device_get(state.model_state)
  logits = make_logits_fn(model, model_state)
  images, targets = (np.asarray(a) for a in data.splits["test"])
  shown = images[:options["num_images"]]
  predicted = np.asarray(jax.vmap(lambda x: jnp.argmax(logits(params, x)))(shown))
  baseline = jnp.asarray(((0.0 - data.mean) / data.std) * np.ones(shown.shape[1:]), jnp.float32)
  rng = jax.random.PRNGKey(config.seed)
  vanilla, smooth, ig, errors = attribution_maps(logits, params, shown, predicted, baseline, rng, options)
  random_params = run.workload.init_state(jax.random.PRNGKey(config.seed + 1000), {}, config=config,
                                        spec=data.spec).params
  random_logits = make_logits_fn(model, model_state)
  r_vanilla, r_smooth, _, _ = attribution_maps(random_logits, random_params, shown, predicted, baseline, rng, options)
  correlations = {name: [rank_correlation(pixel_map(a), pixel_map(b)) for a, b in zip(trained, random)]
                  for name, trained, random in (("vanilla", vanilla, r_vanilla), ("smoothgrad", smooth, r_smooth))}
  averages = class_average_maps(logits, params, images, targets, data.spec.num_outputs, options["per_class"])
  if run.is_writer:
    _plots(run, data.display_images("test")[:len(shown)], predicted, targets[:len(shown)],
           (vanilla, smooth, ig), averages)
  return {"completeness_max_error": float(np.max(errors)), "completeness_tolerance": COMPLETENESS_TOLERANCE,
          "completeness_met": bool(np.max(errors) <= COMPLETENESS_TOLERANCE),
          "randomisation_rank_correlation": {k: float(np.mean(c)) for k, c in correlations.items()},
          "randomisation_threshold": RANDOMISATION_THRESHOLD,
          "randomisation_met": bool(max(np.mean(c) for c in correlations.values()) < RANDOMISATION_THRESHOLD),
          "images": len(shown), "ig_steps": options["ig_steps"]}


def classifier_model(config, spec):
  """The model as the config runs it (float, QAT or int8 weights)."""
  return quantize.wrap_model(build_model(config.model, num_outputs=spec.num_outputs), config.get("quant"))


def class_average_maps(logits, params, images, targets, num_classes: int, per_class: int):
  """Mean |vanilla gradient| map of each class's first `per_class` test images (for its own class)."""
  grad_map = jax.jit(jax.vmap(lambda x, y: pixel_map(vanilla_gradient(logits, params, x, y))))
  maps = []
  for c in range(num_classes):
    rows = np.flatnonzero(targets == c)[:per_class]
    maps.append(np.asarray(grad_map(images[rows], targets[rows])).mean(0) if len(rows) else
                np.zeros(images.shape[1:3]))
  return np.stack(maps)


def _plots(run, display, predicted, targets, attributions, averages) -> None:
  import matplotlib
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt
  names = run.data.class_names or [str(i) for i in range(len(averages))]
  titles = ("image", "vanilla gradient", "SmoothGrad", "integrated gradients")
  fig, axes = plt.subplots(len(display), 4, figsize=(8, 2 * len(display)), squeeze=False)
  for i, image in enumerate(display):
    panels = [np.squeeze(image)] + [np.asarray(pixel_map(a[i])) for a in attributions]
    for j, panel in enumerate(panels):
      axes[i, j].imshow(panel, cmap="gray" if j == 0 else "inferno")
      axes[i, j].set_title(f"{names[predicted[i]]} (true {names[targets[i]]})" if j == 0 else titles[j], fontsize=7)
      axes[i, j].axis("off")
  fig.tight_layout()
  fig.savefig(os.path.join(run.workdir, "saliency.png"), dpi=80)
  plt.close(fig)
  fig, axes = plt.subplots(1, len(averages), figsize=(1.6 * len(averages), 2), squeeze=False)
  for c, panel in enumerate(averages):
    axes[0, c].imshow(panel, cmap="inferno")
    axes[0, c].set_title(names[c], fontsize=7)
    axes[0, c].axis("off")
  fig.tight_layout()
  fig.savefig(os.path.join(run.workdir, "saliency_per_class.png"), dpi=80)
  plt.close(fig)
