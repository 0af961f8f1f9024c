"""Sampling from a language model: temperature, top-k and nucleus draws, and a fixed-size KV cache
decoded inside one jitted loop (models without a cache recompute the whole buffer each step)."""
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.data import text
from bigmodel_jax.engine import hardware, parallel, quantize
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model


def language_model(config, vocab_size: int):
  """The model as the config runs it: float, or with int8 weights (`quant` section, engine/quantize.py)."""
  return quantize.wrap_model(build_model(config.model, num_outputs=vocab_size), config.get("quant"))


def sample_token(logits_BxV, rng, temperature: float, top_k: int, top_p: float):
  """Greedy at temperature 0; else a draw from the tempered distribution cut to its top k / nucleus p."""
  if temperature == 0:
    return jnp.argmax(logits_BxV, -1)
  logits = logits_BxV / temperature
  if 0 < top_k < logits.shape[-1]:
    kth = jax.lax.top_k(logits, top_k)[0][:, -1:]
    logits = jnp.where(logits < kth, -jnp.inf, logits)
  if top_p < 1.0:
    sorted_desc = -jnp.sort(-logits, axis=-1)
    probs = jax.nn.softmax(sorted_desc, axis=-1)
    before = jnp.cumsum(probs, axis=-1) - probs          # Mass of the tokens ranked above.
    cutoff = jnp.min(jnp.where(before < top_p, sorted_desc, jnp.inf), axis=-1, keepdims=True)
    logits = jnp.where(logits < cutoff, -jnp.inf, logits)
  return jax.random.categorical(rng, logits, axis=-1)


def _write_next(buffer_BxT, t, next_B, prompt_len):
  """Puts the draw at t + 1 unless that position still belongs to the prompt."""
  current = jax.lax.dynamic_index_in_dim(buffer_BxT, t + 1, axis=1, keepdims=False)
  value = jnp.where(t + 1 >= prompt_len, next_B, current)
  return jax.lax.dynamic_update_slice_in_dim(buffer_BxT, value[:, None].astype(buffer_BxT.dtype), t + 1, axis=1)


def make_generate(model, temperature: float, top_k: int, top_p: float, cached: bool):
  """A jitted (params, buffer_BxT, prompt_len, rng) -> buffer_BxT: fills positions prompt_len.. with draws.

  Step t reads position t and draws position t + 1 with fold_in(rng, t). Cached: one
  token per step through the fixed-size KV cache (one lax.fori_loop, compiled once per
  buffer length). Uncached: the whole buffer through the model each step (causal, so the
  positions not yet written do not matter); same draws, used to check the cache.
  """
  draw = lambda logits, rng: sample_token(logits, rng, temperature, top_k, top_p)

  def generate_cached(params, buffer_BxT, prompt_len, rng):
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0)}, buffer_BxT,
                                               train=False, decode=True))["cache"]
    cache = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)

    def body(t, carry):
      buffer, cache = carry
      token = jax.lax.dynamic_slice_in_dim(buffer, t, 1, axis=1)
      logits, updated = model.apply({"params": params, "cache": cache}, token, train=False, decode=True,
                                    position=t, mutable=["cache"])
      buffer = _write_next(buffer, t, draw(logits[:, 0], jax.random.fold_in(rng, t)), prompt_len)
      return buffer, updated["cache"]

    return jax.lax.fori_loop(0, buffer_BxT.shape[1] - 1, body, (buffer_BxT, cache))[0]

  def generate_uncached(params, buffer_BxT, prompt_len, rng):
    def body(t, buffer):
      logits = model.apply({"params": params}, buffer, train=False)
      logits_t = jax.lax.dynamic_index_in_dim(logits, t, axis=1, keepdims=False)
      return _write_next(buffer, t, draw(logits_t, jax.random.fold_in(rng, t)), prompt_len)

    return jax.lax.fori_loop(0, buffer_BxT.shape[1] - 1, body, buffer_BxT)

  return jax.jit(generate_cached if cached and model.SUPPORTS_CACHE else generate_uncached)


# A model without a cache recomputes the whole sequence for every new token (quadratic time).
UNCACHED_MAX_TOKENS = 4096
# The sampling state (KV cache, token buffer) may use at most this share of a device's memory.
MEMORY_SHARE = 0.5


def check_sampling_fits(model, num_samples: int, total: int, cached: bool) -> None:
  """ConfigError, before anything runs, when num_samples x total tokens cannot be sampled: more
  than an uncached model recomputes in reasonable time, or a KV cache larger than the memory allows."""
  if not cached and total > UNCACHED_MAX_TOKENS:
    raise ConfigError(f"prompt + --num_tokens = {total} tokens; model {type(model).__name__} recomputes the "
                      f"whole sequence for every token, so at most {UNCACHED_MAX_TOKENS} are allowed")
  per_row = 4 * total   # The int32 token buffer.
  if cached:
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0)}, jnp.zeros((1, total), jnp.int32),
                                               train=False, decode=True))["cache"]
    per_row += sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(shapes))
  budget = MEMORY_SHARE * hardware.memory_bytes(jax.devices()[0])
  if per_row * num_samples > budget:
    raise ConfigError(f"--num_samples={num_samples} x {total} tokens need {per_row * num_samples / 2**30:.1f} GiB "
                      f"for the sampling state; {budget / 2**30:.1f} GiB are allowed: at most "
                      f"{max(int(budget // per_row), 0)} samples of this length")


def generate_text(run, state, prompt: str, num_tokens: int, num_samples: int = 1, seed_offset: int = 0):
  """(list of generated texts, tokens per second) from the run's model, vocabulary and sampling keys."""
  config, spec = run.config, run.data.spec
  tokenizer = text.tokenizer_from_codes(spec.tokenizer, np.asarray(jax.device_get(state.vocab)))
  prompt_ids = tokenizer.encode(prompt)
  if len(prompt_ids) == 0:
    raise ConfigError("--prompt is empty; give at least one character to continue")
  total = len(prompt_ids) + num_tokens
  model = language_model(config, spec.vocab_size)
  if config.model.name == "transformer" and config.model.positions == "learned" and total > config.model.max_len:
    raise ConfigError(f"prompt ({len(prompt_ids)}) + --num_tokens ({num_tokens}) = {total} tokens exceeds the "
                      f"learned positions' limit model.max_len={config.model.max_len}")
  lm = config.lm
  check_sampling_fits(model, num_samples, total, bool(lm.cache and model.SUPPORTS_CACHE))
  buffer = np.zeros((num_samples, total), np.int32)
  buffer[:, :len(prompt_ids)] = prompt_ids
  generate = make_generate(model, lm.temperature, lm.top_k, lm.top_p, lm.cache)
  rng = jax.random.fold_in(jax.random.PRNGKey(config.seed), 3 + seed_offset)
  rules = [(n, a) for n, a in parallel.logical_rules(config.mesh) if n != "batch"]  # A few rows only.
  with nn.logical_axis_rules(rules):
    compiled = generate.lower(state.params, buffer, len(prompt_ids), rng).compile()   # Timed apart.
    start = time.perf_counter()
    out = np.asarray(jax.device_get(compiled(state.params, buffer, len(prompt_ids), rng)))
  rate = num_samples * (total - 1) / max(time.perf_counter() - start, 1e-9)
  return [tokenizer.decode(row) for row in out], rate
