"""Sampling from a language model: temperature, top-k and nucleus draws, and a fixed-size KV cache
decoded inside one jitted loop (models without a cache recompute the whole buffer each step)."""
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from bigmodel_jax.data import text
from bigmodel_jax.engine import parallel
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model


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


def generate_text(run, state, prompt: str, num_tokens: int, num_samples: int = 1, seed_offset: int = 0):
  """(list of generated texts, tokens per second) from the run's model, vocabulary and sampling keys."""
  config, spec = run.config, run.data.spec
  tokenizer = text.tokenizer_from_codes(spec.tokenizer, np.asarray(jax.device_get(state.vocab)))
  prompt_ids = tokenizer.encode(prompt)
  if len(prompt_ids) == 0:
    raise ConfigError("--prompt is empty; give at least one character to continue")
  total = len(prompt_ids) + num_tokens
  model = build_model(config.model, num_outputs=spec.vocab_size)
  if config.model.name == "transformer" and config.model.positions == "learned" and total > config.model.max_len:
    raise ConfigError(f"prompt ({len(prompt_ids)}) + --num_tokens ({num_tokens}) = {total} tokens exceeds the "
                      f"learned positions' limit model.max_len={config.model.max_len}")
  buffer = np.zeros((num_samples, total), np.int32)
  buffer[:, :len(prompt_ids)] = prompt_ids
  lm = config.lm
  generate = make_generate(model, lm.temperature, lm.top_k, lm.top_p, lm.cache)
  rng = jax.random.fold_in(jax.random.PRNGKey(config.seed), 3 + seed_offset)
  rules = [(n, a) for n, a in parallel.logical_rules(config.mesh) if n != "batch"]  # A few rows only.
  with nn.logical_axis_rules(rules):
    generate(state.params, buffer, len(prompt_ids), rng).block_until_ready()   # Compile.
    start = time.perf_counter()
    out = np.asarray(jax.device_get(generate(state.params, buffer, len(prompt_ids), rng)))
  rate = num_samples * (total - 1) / max(time.perf_counter() - start, 1e-9)
  return [tokenizer.decode(row) for row in out], rate
