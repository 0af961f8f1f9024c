"""Language modelling: next-token cross-entropy on a token stream, evaluation in bits per character,
and sampling (`--mode=sample`) with a fixed-size KV cache inside one jitted decode loop.

The train tokens live on the devices; `gather_batch` draws step s's random windows
from `fold_in(rng, s)`, so a batch is a function of (seed, step) alone. The run's
vocabulary (code points, or the 256 bytes) is part of the state, so a checkpoint
carries it and sampling / evaluation decode with the vocabulary it was trained on.
"""
import json
import math
import os
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import PartitionSpec as P

from bigmodel_jax import parallel
from bigmodel_jax import validation as v
from bigmodel_jax.data import text
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model
from bigmodel_jax.optim import make_optimizer
from bigmodel_jax.workloads.base import Workload


@struct.dataclass
class LMState:
  step: jax.Array      # int32: updates taken.
  params: dict
  opt_state: tuple
  vocab: jax.Array     # int32 [V]: the code point (or byte) of every token id.


def make_data(config):
  check_shapes(config)
  return text.load_lm_data(config.data)


def num_train_steps(config, spec) -> int:
  del spec
  return config.train.num_steps


def make_model(config, spec):
  return build_model(config.model, spec.vocab_size)


def _mesh_axis_size(config, axis: str) -> int:
  model = config.mesh.model
  if axis == parallel.MODEL_AXIS:
    return model
  return config.mesh.data if config.mesh.data != -1 else max(jax.device_count() // model, 1)


def check_shapes(config, vocab_size: int = 0) -> None:
  """The model's shape against the data and the mesh: one ConfigError line per misfit."""
  m = config.model
  if m.name != "transformer":
    return
  if m.embed_dim % m.num_heads:
    raise ConfigError(f"model.embed_dim={m.embed_dim} does not divide by model.num_heads={m.num_heads}")
  if m.positions == "rotary" and (m.embed_dim // m.num_heads) % 2:
    raise ConfigError(f"rotary positions need an even head size; embed_dim/num_heads = {m.embed_dim // m.num_heads}")
  if m.positions == "learned" and config.data.seq_len > m.max_len:
    raise ConfigError(f"data.seq_len={config.data.seq_len} exceeds model.max_len={m.max_len} (learned positions)")
  dims = {"heads": m.num_heads, "embed": m.embed_dim, "mlp": m.mlp_ratio * m.embed_dim,
          "kv": m.embed_dim // m.num_heads, "vocab": vocab_size}
  if config.mesh.param_sharding != "logical":
    return
  for name, axis in parallel.logical_rules(config.mesh):
    size = _mesh_axis_size(config, axis) if axis else 1
    if dims.get(name) and dims[name] % size:
      raise ConfigError(f"mesh.rules map {name!r} ({dims[name]}) to mesh axis {axis!r} of {size} devices, "
                        f"which does not divide it; change the mesh or the model")


def init_state(rng, device_data, *, config, spec) -> LMState:
  del device_data
  check_shapes(config, spec.vocab_size)
  model = make_model(config, spec)
  params = model.init({"params": rng}, jnp.zeros((1, spec.seq_len), jnp.int32), train=False)["params"]
  tx = make_optimizer(config.optimizer, config.train.num_steps)
  return LMState(step=jnp.zeros((), jnp.int32), params=params, opt_state=tx.init(params),
                 vocab=jnp.asarray(spec.codes, jnp.int32))


def gather_batch(device_data, step, rng, *, config, spec):
  """Random windows of seq_len + 1 tokens from the train stream; inputs and next-token targets."""
  del step  # `rng` is already fold_in(seed's key, step).
  length, batch = spec.seq_len, config.train.batch_size
  starts = jax.random.randint(rng, (batch, 1), 0, spec.num_train_tokens - length)
  windows = device_data["tokens"][starts + jnp.arange(length + 1)].astype(jnp.int32)
  out = {"inputs": windows[:, :-1], "targets": windows[:, 1:]}
  return jax.lax.with_sharding_constraint(out, P(parallel.DATA_AXIS))


def token_losses(logits_BxTxV, targets_BxT):
  return optax.softmax_cross_entropy_with_integer_labels(logits_BxTxV, targets_BxT)


def train_step(state: LMState, batch, rng, *, config, spec):
  model = make_model(config, spec)
  tx = make_optimizer(config.optimizer, config.train.num_steps)

  def loss_fn(params):
    logits = model.apply({"params": params}, batch["inputs"], train=True, rngs={"dropout": rng})
    return token_losses(logits, batch["targets"]).mean()

  loss, grads = jax.value_and_grad(loss_fn)(state.params)
  updates, opt_state = tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  metrics = {"loss": loss, "bits_per_char": loss / math.log(2), "grad_norm": optax.tree.norm(grads)}
  return state.replace(step=state.step + 1, params=params, opt_state=opt_state), metrics


def eval_step(state: LMState, batch, rng, *, config, spec) -> dict:
  del rng
  logits = make_model(config, spec).apply({"params": state.params}, batch["inputs"], train=False)
  return {"loss": token_losses(logits, batch["targets"]).mean(axis=-1)}


def summarize(outputs, *, config, data) -> dict:
  """Mean loss per token (every row has seq_len tokens), in nats and in bits per character (token)."""
  del config, data
  loss = float(np.mean(outputs["loss"])) if len(outputs.get("loss", ())) else float("nan")
  return {"loss": loss, "bits_per_char": loss / math.log(2), "perplexity": math.exp(min(loss, 50.0))}


def throughput(config, spec) -> tuple:
  return "tokens", config.train.batch_size * spec.seq_len


def count_params(config, spec) -> int:
  model = make_model(config, spec)
  shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0)},
                                             jnp.zeros((1, spec.seq_len), jnp.int32), train=False))
  return model.num_params(shapes["params"])


def flops_per_token(config, spec) -> float:
  """Model FLOPs of one trained token (forward and backward), for MFU."""
  return make_model(config, spec).flops_per_token(count_params(config, spec), spec.seq_len)


# --- Sampling -------------------------------------------------------------------------------------

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
  model = make_model(config, spec)
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


def sample_mode(run, state, options) -> dict:
  """--mode=sample: continues --prompt (or lm.prompt) by --num_tokens (or lm.num_tokens) tokens."""
  lm = run.config.lm
  prompt = options.get("prompt", lm.prompt)
  num_tokens = options.get("num_tokens", lm.num_tokens)
  if num_tokens < 1:
    raise ConfigError(f"--num_tokens={num_tokens}; give a positive number")
  texts, rate = generate_text(run, state, prompt, num_tokens, options.get("num_samples", 1))
  if run.is_writer:
    with open(os.path.join(run.workdir, "sample.txt"), "w") as f:
      f.write("\n\n=====\n\n".join(texts))
    print("\n\n=====\n\n".join(texts))
  return {"prompt": prompt, "samples": texts, "tokens_per_sec": rate,
          "cache": bool(lm.cache and make_model(run.config, run.data.spec).SUPPORTS_CACHE)}


def report(run, state, outputs) -> dict:
  """The vocabulary (vocab.json), the parameter count and a sample of lm.report_tokens tokens (sample.txt)."""
  del outputs
  config, spec = run.config, run.data.spec
  details = {"num_params": count_params(config, spec), "vocab_size": spec.vocab_size}
  if run.is_writer:
    with open(os.path.join(run.workdir, "vocab.json"), "w") as f:
      json.dump({"tokenizer": spec.tokenizer, "codes": list(spec.codes)}, f)
  if config.lm.report_tokens > 0:
    texts, _ = generate_text(run, state, config.lm.prompt, config.lm.report_tokens)
    details["sample"] = texts[0]
    if run.is_writer:
      with open(os.path.join(run.workdir, "sample.txt"), "w") as f:
        f.write(texts[0])
  return details


CONFIG_CHECKS = {
    **text.CONFIG_CHECKS,
    "train.num_steps": v.POSITIVE_INT,
    "lm.prompt": v.STRING,
    "lm.num_tokens": v.POSITIVE_INT,
    "lm.temperature": v.NON_NEGATIVE,
    "lm.top_k": v.NON_NEGATIVE_INT,
    "lm.top_p": v.real_in(0.0, 1.0, low_open=True),
    "lm.cache": v.BOOL,
    "lm.report_tokens": v.NON_NEGATIVE_INT,
}

WORKLOAD = Workload(make_data=make_data, num_train_steps=num_train_steps, init_state=init_state,
                    train_step=train_step, eval_step=eval_step, summarize=summarize, report=report,
                    gather_batch=gather_batch, eval_splits=("validation",), final_split="validation",
                    throughput=throughput, modes={"sample": sample_mode}, config_checks=CONFIG_CHECKS,
                    flops_per_unit=flops_per_token)
