"""Decoder-only Transformer language model (GPT-style), with logical axis names for any layout.

Every parameter carries logical axis names (`vocab`, `embed`, `heads`, `kv`, `mlp`,
`positions`) and the main activations are constrained by (`batch`, `length`, ...);
`mesh.rules` in the config maps them to mesh axes, so data parallel, FSDP and
tensor parallel are config changes. Parameters are float32; `dtype` is the compute dtype.

Decoding: `__call__(tokens_Bx1, train=False, decode=True, position=t)` writes the
step's keys and values into a fixed-size "cache" collection (sized by an init call
with decode=True on the full-length buffer) and attends to positions <= t.
"""
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.models.common import compute_dtype

_INIT = nn.initializers.normal(stddev=0.02)


def _param_init(init, names):
  return nn.with_logical_partitioning(init, names)


def causal_attention_reference(q_BxTxNxH, k_BxSxNxH, v_BxSxNxH, mask_TxS):
  """softmax(Q K^T / sqrt(d)) V with the mask applied, softmax in float32: the plain reference."""
  scale = 1.0 / math.sqrt(q_BxTxNxH.shape[-1])
  scores = jnp.einsum("btnh,bsnh->bnts", q_BxTxNxH, k_BxSxNxH).astype(jnp.float32) * scale
  scores = jnp.where(mask_TxS, scores, jnp.finfo(jnp.float32).min)
  weights = jax.nn.softmax(scores, axis=-1).astype(v_BxSxNxH.dtype)
  return jnp.einsum("bnts,bsnh->btnh", weights, v_BxSxNxH)


def causal_attention_fused(q_BxTxNxH, k_BxSxNxH, v_BxSxNxH, mask_TxS):
  """jax.nn.dot_product_attention: XLA here, the fused cuDNN kernel on GPUs (bf16/fp16)."""
  if mask_TxS is None:
    return jax.nn.dot_product_attention(q_BxTxNxH, k_BxSxNxH, v_BxSxNxH, is_causal=True)
  return jax.nn.dot_product_attention(q_BxTxNxH, k_BxSxNxH, v_BxSxNxH, mask=mask_TxS[None, None])


def rotary(x_BxTxNxH, positions_T, base: float = 10000.0):
  """Rotary position embedding: rotates pairs of channels by position-dependent angles."""
  half = x_BxTxNxH.shape[-1] // 2
  freqs = base ** (-jnp.arange(half, dtype=jnp.float32) / half)
  angles = positions_T.astype(jnp.float32)[:, None] * freqs[None]          # [T, half]
  cos, sin = jnp.cos(angles)[None, :, None], jnp.sin(angles)[None, :, None]
  x1, x2 = x_BxTxNxH[..., :half].astype(jnp.float32), x_BxTxNxH[..., half:].astype(jnp.float32)
  return jnp.concatenate([x1 * cos - x2 * sin, x1 * sin + x2 * cos], -1).astype(x_BxTxNxH.dtype)


def _norm(kind: str, dtype, name: str):
  scale = _param_init(nn.initializers.ones, ("embed",))
  if kind == "rmsnorm":
    return nn.RMSNorm(dtype=dtype, scale_init=scale, name=name)
  return nn.LayerNorm(dtype=dtype, scale_init=scale, bias_init=_param_init(nn.initializers.zeros, ("embed",)),
                      name=name)


class SelfAttention(nn.Module):
  num_heads: int
  rotary: bool
  fused: bool
  dtype: jnp.dtype

  @nn.compact
  def __call__(self, x_BxTxE, positions_T, decode: bool, position=None):
    embed = x_BxTxE.shape[-1]
    heads, head_dim = self.num_heads, embed // self.num_heads
    # One kernel for queries, keys and values: one matmul instead of three.
    qkv_kernel = self.param("qkv_kernel", _param_init(_INIT, (None, "embed", "heads", "kv")),
                            (3, embed, heads, head_dim))
    qkv_bias = self.param("qkv_bias", _param_init(nn.initializers.zeros, (None, "heads", "kv")), (3, heads, head_dim))
    qkv = jnp.einsum("bte,sehd->sbthd", x_BxTxE, qkv_kernel.astype(self.dtype)) + \
        qkv_bias.astype(self.dtype)[:, None, None]
    constrain = lambda t: nn.with_logical_constraint(t, ("batch", "length", "heads", "kv"))
    q, k, val = constrain(qkv[0]), constrain(qkv[1]), constrain(qkv[2])
    if self.rotary:
      q, k = rotary(q, positions_T), rotary(k, positions_T)
    mask = None
    if decode:
      k, val, mask = self._use_cache(k, val, position)
    attend = causal_attention_fused if self.fused else causal_attention_reference
    if mask is None and not self.fused:
      mask = jnp.tril(jnp.ones((q.shape[1], k.shape[1]), bool))
    out = constrain(attend(q, k, val, mask))
    out_kernel = self.param("out_kernel", _param_init(_INIT, ("heads", "kv", "embed")), (heads, head_dim, embed))
    out_bias = self.param("out_bias", _param_init(nn.initializers.zeros, ("embed",)), (embed,))
    return jnp.einsum("bthd,hde->bte", out, out_kernel.astype(self.dtype)) + out_bias.astype(self.dtype)

  def _use_cache(self, k_Bx1xNxH, v_Bx1xNxH, position):
    """Stores this step's key and value at `position`; returns the whole cache and its mask."""
    initializing = not self.has_variable("cache", "key")
    cached_k = self.variable("cache", "key", jnp.zeros, k_Bx1xNxH.shape, k_Bx1xNxH.dtype)
    cached_v = self.variable("cache", "value", jnp.zeros, v_Bx1xNxH.shape, v_Bx1xNxH.dtype)
    if initializing:   # The init call sizes the cache from the full-length buffer.
      return k_Bx1xNxH, v_Bx1xNxH, jnp.tril(jnp.ones((k_Bx1xNxH.shape[1],) * 2, bool))
    cached_k.value = jax.lax.dynamic_update_slice_in_dim(cached_k.value, k_Bx1xNxH, position, axis=1)
    cached_v.value = jax.lax.dynamic_update_slice_in_dim(cached_v.value, v_Bx1xNxH, position, axis=1)
    mask = (jnp.arange(cached_k.value.shape[1]) <= position)[None, :]
    return cached_k.value, cached_v.value, mask


class Block(nn.Module):
  num_heads: int
  mlp_dim: int
  norm: str
  dropout: float
  rotary: bool
  fused: bool
  dtype: jnp.dtype

  @nn.compact
  def __call__(self, x_BxTxE, positions_T, train: bool, decode: bool = False, position=None):
    embed = x_BxTxE.shape[-1]
    drop = lambda t: nn.Dropout(self.dropout, deterministic=not train)(t)
    h = _norm(self.norm, self.dtype, "norm_attention")(x_BxTxE)
    h = SelfAttention(self.num_heads, self.rotary, self.fused, self.dtype, name="attention")(
        h, positions_T, decode, position)
    x_BxTxE = x_BxTxE + drop(h)
    h = _norm(self.norm, self.dtype, "norm_mlp")(x_BxTxE)
    h = nn.Dense(self.mlp_dim, dtype=self.dtype, name="mlp_in", kernel_init=_param_init(_INIT, ("embed", "mlp")),
                 bias_init=_param_init(nn.initializers.zeros, ("mlp",)))(h)
    h = nn.gelu(nn.with_logical_constraint(h, ("batch", "length", "mlp")))
    h = nn.Dense(embed, dtype=self.dtype, name="mlp_out", kernel_init=_param_init(_INIT, ("mlp", "embed")),
                 bias_init=_param_init(nn.initializers.zeros, ("embed",)))(h)
    x_BxTxE = x_BxTxE + drop(h)
    return nn.with_logical_constraint(x_BxTxE, ("batch", "length", "embed"))


class Transformer(nn.Module):
  """GPT: token (+ learned position) embeddings, pre-norm blocks, tied output embedding."""
  num_outputs: int                # Vocabulary size (set from the data).
  num_layers: int = 4
  num_heads: int = 4
  embed_dim: int = 128
  mlp_ratio: int = 4              # MLP width = mlp_ratio * embed_dim.
  max_len: int = 256              # Longest sequence (the learned position table's size).
  positions: str = "learned"      # learned | rotary
  norm: str = "layernorm"         # layernorm | rmsnorm
  dropout: float = 0.0
  attention: str = "fused"        # fused (jax.nn.dot_product_attention) | reference
  remat: bool = False             # Recompute each block's activations in the backward pass.
  dtype: str = "float32"          # Compute dtype; parameters stay float32.

  CONFIG_CHECKS = {
      "num_layers": v.POSITIVE_INT, "num_heads": v.POSITIVE_INT, "embed_dim": v.POSITIVE_INT,
      "mlp_ratio": v.POSITIVE_INT, "max_len": v.POSITIVE_INT,
      "positions": v.one_of("learned", "rotary"), "norm": v.one_of("layernorm", "rmsnorm"),
      "dropout": v.PROBABILITY, "attention": v.one_of("fused", "reference"), "remat": v.BOOL,
      "dtype": v.one_of("float32", "bfloat16", "float16"),
  }
  SUPPORTS_CACHE = True

  @nn.compact
  def __call__(self, tokens_BxT, *, train: bool, decode: bool = False, position=None):
    dtype = compute_dtype(self.dtype)
    length = tokens_BxT.shape[1]
    positions_T = jnp.arange(length) if position is None else position + jnp.arange(length)
    embed = nn.Embed(self.num_outputs, self.embed_dim, dtype=dtype, name="token_embedding",
                     embedding_init=_param_init(_INIT, ("vocab", "embed")))
    x = embed(tokens_BxT)
    if self.positions == "learned":
      table = self.param("position_embedding", _param_init(_INIT, ("positions", "embed")),
                         (self.max_len, self.embed_dim))
      x = x + jnp.take(table, positions_T, axis=0).astype(dtype)[None]
    x = nn.with_logical_constraint(x, ("batch", "length", "embed"))
    x = nn.Dropout(self.dropout, deterministic=not train)(x)
    block = nn.remat(Block, static_argnums=(3, 4)) if self.remat else Block
    for i in range(self.num_layers):
      x = block(self.num_heads, self.mlp_ratio * self.embed_dim, self.norm, self.dropout,
                self.positions == "rotary", self.attention == "fused", dtype, name=f"block_{i}")(
                    x, positions_T, train, decode, position)
    x = _norm(self.norm, dtype, "norm_final")(x)
    logits = embed.attend(x)
    return nn.with_logical_constraint(logits.astype(jnp.float32), ("batch", "length", "vocab"))

  def num_params(self, params, *, with_positions: bool = False) -> int:
    """Parameters, the learned position table left out unless asked (the usual convention)."""
    flat = jax.tree_util.tree_leaves_with_path(params)
    return sum(x.size for path, x in flat if with_positions or "position_embedding" not in jax.tree_util.keystr(path))

  def flops_per_token(self, num_params: int, context: int) -> float:
    """Training FLOPs per token: 6N for the matmuls of N parameters plus 6 * 2 * layers * context * dims
    for the attention scores and weighted sums (the PaLM appendix's count)."""
    return 6.0 * num_params + 12.0 * self.num_layers * context * self.embed_dim
