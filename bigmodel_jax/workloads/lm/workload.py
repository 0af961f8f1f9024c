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

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import struct
from jax.sharding import PartitionSpec as P

from bigmodel_jax.config import checks as v
from bigmodel_jax.config import sections
from bigmodel_jax.data import text
from bigmodel_jax.engine import export, parallel, pruning, quantize
from bigmodel_jax.engine.optim import make_optimizer
from bigmodel_jax.errors import ConfigError
from bigmodel_jax.models import build_model
from bigmodel_jax.workloads.base import Mode, ModeFlag, Report, Workload, export_mode, with_common
from bigmodel_jax.workloads.lm.sampling import generate_text, language_model
from bigmodel_jax.workloads.quantize_mode import Quantizable, quantize_mode

LM_SECTION = dict(
    prompt=("\n", v.STRING),                # Default text to continue (--prompt overrides).
    num_tokens=(500, v.POSITIVE_INT),        # Default sample length (--num_tokens overrides).
    temperature=(0.8, v.NON_NEGATIVE),       # 0 = greedy.
    top_k=(0, v.NON_NEGATIVE_INT),           # Keep the k most likely tokens (0 = all).
    top_p=(0.95, v.real_in(0.0, 1.0, low_open=True)),   # Nucleus: the smallest set of this probability (1 = all).
    cache=(True, v.BOOL),                    # KV-cache decoding (models that have one); False = full recompute.
    report_tokens=(300, v.NON_NEGATIVE_INT),  # Sample written to sample.txt at the end of training (0 = none).
)


@struct.dataclass
class LMState:
  step: jax.Array      # int32: updates taken.
  params: dict
  opt_state: tuple
  vocab: jax.Array     # int32 [V]: the code point (or byte) of every token id.


def make_data(config, mesh):
  check_shapes(config, mesh)
  data = text.load_lm_data(config.data)
  check_shapes(config, mesh, data.spec.vocab_size)
  return data


def num_train_steps(config, spec) -> int:
  del spec
  return config.train.num_steps


def make_model(config, spec):
  return language_model(config, spec.vocab_size)


def init_inputs(spec):
  return (jnp.zeros((1, spec.seq_len), jnp.int32),), {"train": False}


def make_tx(config):
  """The optimizer, followed by magnitude pruning when prune.sparsity > 0."""
  return pruning.with_pruning(make_optimizer(config.optimizer, config.train.num_steps), config.prune,
                              config.train.num_steps)


def check_shapes(config, mesh, vocab_size: int = 0) -> None:
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
    if axis and axis not in mesh.shape:
      raise ConfigError(f"mesh.rules map {name!r} to {axis!r}, which is not a mesh axis; "
                        f"use one of {list(mesh.shape)}")
    size = mesh.shape[axis] if axis else 1
    if dims.get(name) and dims[name] % size:
      raise ConfigError(f"mesh.rules map {name!r} ({dims[name]}) to mesh axis {axis!r} of {size} devices, "
                        f"which does not divide it; change the mesh or the model")


def init_state(rng, device_data, *, config, spec) -> LMState:
  del device_data
  model = make_model(config, spec)
  args, kwargs = init_inputs(spec)
  params = model.init({"params": rng}, *args, **kwargs)["params"]
  if quantize.holds_int8_params(config.quant):   # The int8 tree a quantised run's checkpoint holds.
    float_model = build_model(config.model, num_outputs=spec.vocab_size)
    float_params = nn.unbox(float_model.init({"params": rng}, *args, **kwargs)["params"])
    params = quantize.quantize_params(float_params, model, *args, **kwargs)
  tx = make_tx(config)
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
  tx = make_tx(config)

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


def sample_mode(run, state, options) -> dict:
  """--mode=sample: continues --prompt by --num_tokens tokens, --num_samples times."""
  texts, rate = generate_text(run, state, options["prompt"], options["num_tokens"], options["num_samples"])
  if run.is_writer:
    with open(os.path.join(run.workdir, "sample.txt"), "w") as f:
      f.write("\n\n=====\n\n".join(texts))
    print("\n\n=====\n\n".join(texts))
  return {"prompt": options["prompt"], "samples": texts, "tokens_per_sec": rate,
          "cache": bool(run.config.lm.cache and make_model(run.config, run.data.spec).SUPPORTS_CACHE)}


def inference(run, state) -> export.Inference:
  """Token ids (B, seq_len) int32 -> the next token's logits (B, V) after the last position."""
  model, params = make_model(run.config, run.data.spec), jax.device_get(state.params)
  seq_len = run.config.data.seq_len
  logits = quantize.with_weights_as_arguments(lambda p, tokens: model.apply({"params": p}, tokens, train=False), params)
  fn = lambda tokens_BxT: logits(tokens_BxT)[:, -1]
  example = np.stack([np.arange(i, i + seq_len) % run.data.spec.vocab_size for i in range(4)]).astype(np.int32)
  meta = {"input": "token ids (batch, seq_len)", "output": "logits of the next token",
          "vocab": np.asarray(jax.device_get(state.vocab)).tolist()}
  return export.Inference(fn, (seq_len,), "int32", meta, example)


SAMPLE_FLAGS = {
    "prompt": ModeFlag(str, "text to continue", v.STRING, default_key="lm.prompt"),
    "num_tokens": ModeFlag(int, "tokens to generate after the prompt", v.int_in(1, 1_000_000),
                           default_key="lm.num_tokens"),
    "num_samples": ModeFlag(int, "continuations to draw", v.int_in(1, 10_000), default=1),
}


def report(run, state, outputs) -> Report:
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
  summary = {"sparsity": pruning.sparsity_report(jax.device_get(state.params))} if config.prune.sparsity else {}
  return Report(details=details, summary=summary)


WORKLOAD = Workload(
    sections=with_common(data=text.DATA_SECTION, optimizer=sections.OPTIMIZER, lm=LM_SECTION,
                         prune=pruning.PRUNE_SECTION, quant=quantize.QUANT_SECTION),
    make_data=make_data, num_train_steps=num_train_steps, init_state=init_state, train_step=train_step,
    eval_step=eval_step, summarize=summarize, report=report, gather_batch=gather_batch,
    eval_splits=("validation",), final_split="validation", throughput=throughput,
    modes={"sample": Mode(sample_mode, "continue a prompt with the latest checkpoint (sample.txt)", SAMPLE_FLAGS),
           "export": export_mode(inference),
           "quantize": quantize_mode(Quantizable(model=make_model, init_inputs=init_inputs))},
    config_checks={"train.num_steps": v.POSITIVE_INT}, unused_keys=("train.num_epochs", "train.ema_decay"),
    flops_per_unit=flops_per_token)


def tiny(config) -> None:
  """The language models' `:tiny` (tests, laptops): windows of 16 tokens, 20 steps of 16 windows,
  8-token samples; the config narrows its own model."""
  config.data.update(seq_len=16, eval_windows=16)
  sections.short_run(config, num_steps=20, batch_size=16, steps_per_dispatch=5, log_every=5, eval_every=10,
                     checkpoint_every=10)
  config.eval.batch_size = 8
  config.optimizer.warmup_steps = 5
  config.lm.update(num_tokens=8, report_tokens=8)
