"""The language-model workload: tokenizers, the Transformer's properties, KV-cache sampling, layouts
on 8 simulated devices, training, resume, the LSTM baseline and bad input."""
import functools
import json
import os
import types

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bigmodel_jax.engine import parallel, trainer
from bigmodel_jax.data import text
from bigmodel_jax.errors import ConfigError, DataError
from bigmodel_jax.models.transformer import Transformer, causal_attention_fused, causal_attention_reference
from bigmodel_jax.workloads.lm import sampling
from bigmodel_jax.workloads.lm import workload as lm
from conftest import assert_same_arrays, load_config, losses, params, stop_and_resume

WORDS = ["the", "king", "queen", "shall", "speak", "night", "love", "sword", "and", "of"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
  """~12k characters of word salad over a small vocabulary: learnable within a few dozen steps."""
  rng = np.random.default_rng(0)
  lines = [" ".join(rng.choice(WORDS, size=8)) + "." for _ in range(300)]
  path = tmp_path_factory.mktemp("corpus") / "text.txt"
  path.write_text("\n".join(lines))
  return str(path)


ONE_DEVICE = dict(data=1, model=1)


def tiny(corpus, name="lm_shakespeare_char", **sections):
  """The :tiny config on the test corpus, on one of the 8 devices unless `mesh` says otherwise."""
  config = load_config(name, "tiny")
  config.data.name, config.data.files = "files", corpus
  config.mesh.update(ONE_DEVICE)
  for section, values in sections.items():
    config[section].update(values)
  return config


MODEL_KINDS = [("learned", "fused"), ("rotary", "reference")]


@pytest.fixture(scope="module", params=MODEL_KINDS, ids=["learned-fused", "rotary-reference"])
def small_model(request):
  """A 2-block model with random weights: (model, params)."""
  positions, attention = request.param
  model = Transformer(num_outputs=11, num_layers=2, num_heads=2, embed_dim=16, max_len=24,
                      positions=positions, attention=attention)
  variables = jax.jit(lambda r: model.init(r, jnp.zeros((1, 8), jnp.int32), train=False))(jax.random.PRNGKey(0))
  return model, nn.unbox(variables["params"])


# --- Data -----------------------------------------------------------------------------------------

def test_tokenizers_round_trip_exactly():
  sample = "Thou art\nmore lovely — ça va? 日本"
  tokens, char = text.decode_corpus(sample.encode(), "char", "t")
  assert char.decode(tokens) == sample and char.vocab_size == len(set(sample))
  assert text.tokenizer_from_codes("char", char.codes()).decode(tokens) == sample   # As a run reloads it.
  tokens, byte = text.decode_corpus(sample.encode(), "byte", "t")
  assert byte.vocab_size == 256 and len(tokens) == len(sample.encode()) and byte.decode(tokens) == sample


def test_bad_corpora_are_data_errors(tmp_path, corpus):
  with pytest.raises(DataError, match="empty"):
    text.decode_corpus(b"", "char", "t")
  with pytest.raises(DataError, match="not UTF-8"):
    text.decode_corpus(b"abc\xff\xfe", "char", "t")
  short = tiny(corpus, data={"seq_len": 16})
  (tmp_path / "short.txt").write_text("a short text")
  short.data.files = str(tmp_path / "short.txt")
  with pytest.raises(DataError, match="shorter than one window"):
    text.load_lm_data(short.data)
  with pytest.raises(DataError, match="no files"):
    text.load_lm_data(tiny(str(tmp_path / "nothing*.txt")).data)


def test_windows_are_a_function_of_seed_and_step(corpus):
  config = tiny(corpus)
  data = lm.make_data(config, parallel.make_mesh(config.mesh))
  device = {"tokens": jnp.asarray(data.train_tokens)}
  batch = lambda s, seed=0: lm.gather_batch(device, s, jax.random.fold_in(jax.random.PRNGKey(seed), s),
                                            config=config, spec=data.spec)
  with parallel.mesh_context(parallel.make_mesh(config.mesh), config.mesh):
    a, b, again, other_seed = batch(3), batch(4), batch(3), batch(3, seed=1)
  np.testing.assert_array_equal(a["inputs"], again["inputs"])
  assert not np.array_equal(a["inputs"], b["inputs"])
  assert not np.array_equal(a["inputs"], other_seed["inputs"])
  np.testing.assert_array_equal(a["inputs"][:, 1:], a["targets"][:, :-1])   # Targets are the next tokens.
  assert a["inputs"].shape == (config.train.batch_size, config.data.seq_len)


# --- Model properties -----------------------------------------------------------------------------

def test_changing_token_t_never_changes_earlier_logits(small_model):
  model, params = small_model
  tokens = jax.random.randint(jax.random.PRNGKey(1), (2, 12), 0, 11)
  changed = tokens.at[:, 7].set((tokens[:, 7] + 1) % 11)
  apply = jax.jit(lambda t: model.apply({"params": params}, t, train=False))
  before, after = apply(tokens), apply(changed)
  np.testing.assert_array_equal(before[:, :7], after[:, :7])
  assert np.abs(before[:, 7:] - after[:, 7:]).max() > 1e-4


def test_fused_attention_equals_the_reference():
  q, k, v = np.random.default_rng(2).normal(size=(3, 2, 10, 4, 8)).astype(np.float32)
  mask = jnp.tril(jnp.ones((10, 10), bool))
  np.testing.assert_allclose(jax.jit(causal_attention_fused)(q, k, v, None),
                             jax.jit(causal_attention_reference)(q, k, v, mask), atol=1e-5)
  # With a mask (the KV cache's): only the allowed keys count.
  cache_mask = (jnp.arange(10) <= 4)[None, :]
  np.testing.assert_allclose(jax.jit(causal_attention_fused)(q[:, :1], k, v, cache_mask),
                             jax.jit(causal_attention_reference)(q[:, :1], k[:, :5], v[:, :5], cache_mask[:, :5]),
                             atol=1e-5)


def test_cached_sampling_returns_the_tokens_of_uncached_sampling(small_model):
  model, params = small_model
  buffer = np.zeros((2, 20), np.int32)
  buffer[:, :3] = [[1, 2, 3], [4, 5, 6]]
  rng = jax.random.PRNGKey(7)
  cached = sampling.make_generate(model, 1.0, 0, 1.0, cached=True)(params, buffer, 3, rng)
  uncached = sampling.make_generate(model, 1.0, 0, 1.0, cached=False)(params, buffer, 3, rng)
  np.testing.assert_array_equal(cached, uncached)
  np.testing.assert_array_equal(cached[:, :3], buffer[:, :3])     # The prompt is kept.
  assert len(np.unique(np.asarray(cached[:, 3:]))) > 2            # Random weights, temperature 1: varied draws.


def test_top_k_and_top_p_cut_the_distribution():
  logits = jnp.log(jnp.array([[0.5, 0.3, 0.15, 0.05]]))
  settings = [(1, 1.0), (2, 1.0), (0, 0.7), (0, 1.0)]

  @jax.jit
  def draws(keys):
    return [jax.vmap(lambda key: sampling.sample_token(logits, key, 1.0, k, p)[0])(keys) for k, p in settings]

  got = [set(np.asarray(d).tolist()) for d in draws(jax.random.split(jax.random.PRNGKey(0), 60))]
  # top_k 1, top_k 2, nucleus 0.7 (0.5 < 0.7 <= 0.8: the first two), everything.
  assert got == [{0}, {0, 1}, {0, 1}, {0, 1, 2, 3}]
  assert int(sampling.sample_token(logits, jax.random.PRNGKey(0), 0.0, 0, 1.0)[0]) == 0   # Greedy.


# --- Layouts on 8 simulated devices ---------------------------------------------------------------

LAYOUTS = {
    "one device": dict(data=1, model=1, param_sharding="logical", rules=(("batch", "data"),)),
    "data parallel": dict(data=-1, model=1, param_sharding="logical", rules=(("batch", "data"),)),
    "fsdp": dict(data=-1, model=1, param_sharding="logical", rules=(("batch", "data"), ("embed", "data"))),
    "tensor": dict(data=4, model=2, param_sharding="logical",
                   rules=(("batch", "data"), ("heads", "model"), ("mlp", "model"))),
}


@pytest.fixture(scope="module")
def lm_layouts(corpus):
  """Per layout: (logits of a fixed batch, a train step's loss and gradient norm on it, the parameter specs).

  One initial state, made once on the host, is laid out by each layout's rules (no init per layout)."""
  base = tiny(corpus)
  data = lm.make_data(base, parallel.make_mesh(base.mesh))
  tokens = np.arange(16 * 17).reshape(16, 17) % data.spec.vocab_size
  init = functools.partial(lm.init_state, device_data=None, config=base, spec=data.spec)
  boxed = jax.eval_shape(init, jax.random.PRNGKey(0))
  host_state = jax.device_get(nn.unbox(jax.jit(init)(jax.random.PRNGKey(0))))
  results = {}
  for name, mesh_config in LAYOUTS.items():
    config = tiny(corpus, mesh=mesh_config)
    mesh, model = parallel.make_mesh(config.mesh), lm.make_model(config, data.spec)
    lm.check_shapes(config, mesh, data.spec.vocab_size)
    step = functools.partial(lm.train_step, rng=jax.random.PRNGKey(1), config=config, spec=data.spec)

    def logits_and_step(state, batch):
      logits = model.apply({"params": state.params}, batch["inputs"], train=False)
      metrics = step(state, batch)[1]
      return logits, metrics["loss"], metrics["grad_norm"]

    with parallel.mesh_context(mesh, config.mesh):
      state = jax.device_put(host_state, parallel.state_shardings(boxed, mesh, config.mesh))
      batch = parallel.shard_batch({"inputs": tokens[:, :-1], "targets": tokens[:, 1:]}, mesh)
      logits, loss, grad_norm = jax.jit(logits_and_step)(state, batch)
    specs = jax.tree.map(lambda x: x.sharding.spec, state.params)
    results[name] = (np.asarray(logits), np.array([loss, grad_norm]), specs)
  return results


@pytest.mark.slow
@pytest.mark.parametrize("name", ["data parallel", "fsdp", "tensor"])
def test_layouts_give_the_single_device_logits_and_losses(lm_layouts, name):
  logits, losses, _ = lm_layouts[name]
  one_logits, one_losses, _ = lm_layouts["one device"]
  np.testing.assert_allclose(logits, one_logits, atol=2e-5)
  np.testing.assert_allclose(losses, one_losses, rtol=2e-5)   # Gradients reduced over every shard.


@pytest.mark.slow
def test_layout_rules_actually_shard_the_parameters(lm_layouts):
  attention = lambda name: lm_layouts[name][2]["block_0"]["attention"]
  assert set(attention("data parallel")["qkv_kernel"]) == {None}
  assert "data" in tuple(attention("fsdp")["qkv_kernel"])
  assert "model" in tuple(attention("tensor")["qkv_kernel"])
  assert "model" in tuple(lm_layouts["tensor"][2]["block_0"]["mlp_in"]["kernel"])


@pytest.mark.parametrize("strategy", ["replicate", "fsdp"])
def test_shape_based_strategies_read_through_the_logical_boxes(corpus, strategy):
  config = tiny(corpus, mesh=dict(data=-1, param_sharding=strategy))
  data = lm.make_data(config, parallel.make_mesh(config.mesh))
  boxed = jax.eval_shape(functools.partial(lm.init_state, device_data=None, config=config, spec=data.spec),
                         jax.random.PRNGKey(0))
  mesh = parallel.make_mesh(config.mesh)
  with parallel.mesh_context(mesh, config.mesh):
    shardings = parallel.state_shardings(boxed, mesh, config.mesh)
  kernel = shardings.params["block_0"]["mlp_in"]["kernel"].spec     # 32 x 128: the largest dim splits.
  assert tuple(kernel) == (() if strategy == "replicate" else (None, "data"))


def test_a_mesh_that_does_not_divide_the_heads_or_embedding_is_one_config_error(corpus, tmp_path):
  heads = tiny(corpus, mesh=dict(data=1, model=8, param_sharding="logical",
                                 rules=(("batch", "data"), ("heads", "model"))))
  with pytest.raises(ConfigError, match="'heads' \\(2\\) to mesh axis 'model' of 8 devices"):
    trainer.build_run(heads, str(tmp_path))
  with pytest.raises(ConfigError, match="embed_dim=30 does not divide by model.num_heads=4"):
    trainer.build_run(tiny(corpus, model={"embed_dim": 30, "num_heads": 4}), str(tmp_path))


# --- Training end to end --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lm_run(corpus, tmp_path_factory):
  """One straight tiny run: (workdir, summary)."""
  workdir = str(tmp_path_factory.mktemp("straight"))
  return workdir, trainer.train_and_evaluate(tiny(corpus), workdir)


def test_loss_falls_and_every_output_is_written(lm_run):
  workdir, summary = lm_run
  curve = losses(workdir)
  assert curve[-1] < curve[0] - 0.5, curve      # From ~ln(17) = 2.8 nats within 20 steps.
  assert summary["test"]["bits_per_char"] == pytest.approx(summary["test"]["loss"] / np.log(2))
  assert summary["test"]["loss"] < 3.0
  with open(os.path.join(workdir, "metrics.jsonl")) as f:
    rows = [json.loads(line) for line in f]
  assert all(0 < r["train/mfu"] < 1 and r["train/tokens_per_sec"] > 0 for r in rows if "train/loss" in r)
  vocab = json.load(open(os.path.join(workdir, "vocab.json")))
  assert "".join(map(chr, vocab["codes"])) == "".join(sorted(set(" .\n" + "".join(WORDS))))
  assert len(summary["test_details"]["sample"]) == 1 + 8       # The prompt and report_tokens.


def test_kill_and_resume_gives_the_parameters_of_a_straight_run(corpus, lm_run, tmp_path):
  stop_and_resume(lambda: tiny(corpus, lm={"report_tokens": 0}), str(tmp_path), step=10)
  assert_same_arrays(params(lm_run[0]), params(str(tmp_path)))
  assert losses(lm_run[0]) == losses(str(tmp_path))


def test_sample_and_eval_modes_on_a_saved_run(corpus, lm_run):
  workdir, summary = lm_run
  result = trainer.train_and_evaluate(tiny(corpus), workdir, mode="sample",
                                      options={"prompt": "the king", "num_tokens": 6, "num_samples": 2})
  assert [s[:8] for s in result["samples"]] == ["the king"] * 2 and result["cache"]
  assert all(len(s) == 14 and set(s) <= set(" .\n" + "".join(WORDS)) for s in result["samples"])
  evaluated = trainer.train_and_evaluate(tiny(corpus, lm={"report_tokens": 0}), workdir, mode="eval")
  assert evaluated["test"]["loss"] == pytest.approx(summary["test"]["loss"], rel=1e-6)


def test_bad_prompts_and_lengths_are_user_errors(corpus):
  config = tiny(corpus)
  run = types.SimpleNamespace(config=config, data=lm.make_data(config, parallel.make_mesh(config.mesh)))
  state = types.SimpleNamespace(vocab=np.asarray(run.data.spec.codes))
  with pytest.raises(DataError, match="outside the run's vocabulary"):
    sampling.generate_text(run, state, "Zebra", 4)
  with pytest.raises(ConfigError, match="exceeds the learned positions' limit model.max_len=32"):
    sampling.generate_text(run, state, "the", 40)
  with pytest.raises(ConfigError, match="--prompt is empty"):
    sampling.generate_text(run, state, "", 4)


def test_the_lstm_baseline_trains(corpus, tmp_path):
  summary = trainer.train_and_evaluate(tiny(corpus, "lstm_shakespeare_char"), str(tmp_path))
  curve = losses(str(tmp_path))
  assert curve[-1] < curve[0] - 0.3, curve
  assert summary["test"]["loss"] < curve[0]
  assert summary["test_details"]["num_params"] > 0
