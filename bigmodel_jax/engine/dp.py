"""DP-SGD: per-example clipping and Gaussian noise (optax's transform), and its privacy accounting.

Per-example gradients come from `jax.vmap` of the one-example gradient, inside the
same jitted (and sharded) step. The privacy spent is accounted by dp-accounting's
RDP accountant for the Poisson-subsampled Gaussian mechanism with sampling rate
1 / steps_per_epoch (>= batch / examples); batches here are shuffled epochs, the
usual practice of reporting them as Poisson-sampled.
"""
import functools

import dp_accounting
import optax

from bigmodel_jax.config import checks as v
from bigmodel_jax.errors import ConfigError

DP_SECTION = dict(
    clip_norm=(0.0, v.NON_NEGATIVE),         # Per-example gradient L2 bound C (0 = DP-SGD off).
    noise_multiplier=(1.0, v.NON_NEGATIVE),  # Noise std / C added to the sum of clipped gradients.
    delta=(1e-5, v.PROBABILITY),             # The delta of the reported (epsilon, delta).
    target_epsilon=(0.0, v.NON_NEGATIVE),    # > 0: the run ends at the last step with epsilon <= this.
)


def enabled(cfg) -> bool:
  """None (a config written before the section existed) is off."""
  return cfg is not None and cfg.clip_norm > 0


def check(config) -> None:
  """Batch norm mixes the examples of a batch, so per-example gradients would not bound anything."""
  if enabled(config.get("dp")) and config.model.get("batch_norm", False):
    raise ConfigError("dp.clip_norm>0 with model.batch_norm=True: batch norm mixes examples, so "
                      "per-example clipping bounds nothing; set model.batch_norm=False")


def private_aggregate(cfg, seed: int) -> optax.GradientTransformation:
  """Clips each example's gradient to C, sums, adds N(0, (sigma C)^2), divides by the batch."""
  import jax
  return optax.contrib.differentially_private_aggregate(cfg.clip_norm, cfg.noise_multiplier,
                                                        key=jax.random.key(seed + 7))


@functools.lru_cache(maxsize=256)
def epsilon(noise_multiplier: float, sampling_rate: float, steps: int, delta: float) -> float:
  if steps == 0:
    return 0.0
  event = dp_accounting.SelfComposedDpEvent(
      dp_accounting.PoissonSampledDpEvent(sampling_rate, dp_accounting.GaussianDpEvent(noise_multiplier)), steps)
  accountant = dp_accounting.rdp.RdpAccountant()
  accountant.compose(event)
  return float(accountant.get_epsilon(delta))


def steps_within(cfg, sampling_rate: float, max_steps: int, multiple: int = 1) -> int:
  """The most steps (a multiple of `multiple`, <= max_steps) whose epsilon is <= cfg.target_epsilon."""
  if cfg.target_epsilon <= 0:
    return max_steps
  lo, hi = 0, max_steps // multiple
  while lo < hi:
    mid = (lo + hi + 1) // 2
    if epsilon(cfg.noise_multiplier, sampling_rate, mid * multiple, cfg.delta) <= cfg.target_epsilon:
      lo = mid
    else:
      hi = mid - 1
  if lo == 0:
    raise ConfigError(f"dp.target_epsilon={cfg.target_epsilon} is spent before the first "
                      f"{multiple} step(s) (epsilon {epsilon(cfg.noise_multiplier, sampling_rate, multiple, cfg.delta):.3g}); "
                      f"raise it or dp.noise_multiplier")
  return lo * multiple


def privacy_summary(cfg, sampling_rate: float, steps: int) -> dict:
  return {"epsilon": epsilon(cfg.noise_multiplier, sampling_rate, steps, cfg.delta), "delta": cfg.delta,
          "noise_multiplier": cfg.noise_multiplier, "clip_norm": cfg.clip_norm, "sampling_rate": sampling_rate,
          "steps": steps, "accountant": "dp_accounting RDP, Poisson-subsampled Gaussian"}
