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


def sum_rows_as_matmul(g, shape):
  """g summed down to `shape` (g's shape with 1s on one run of axes) as a product with a vector of ones.

  XLA:CPU runs such column sums (the gradients of every bias and norm scale) as
  reduce-windows at a fraction of matmul speed: they were 17% of the benchmark
  LM's step (WORKSPACE.md, Performance notes); as a dot they run on the matmul library.
  """
  full = (1,) * (g.ndim - len(shape)) + tuple(shape)
  axes = [a for a, (n, m) in enumerate(zip(g.shape, full)) if n != m]
  if not axes:
    return g.reshape(shape)
  first, last = axes[0], axes[-1] + 1
  if axes != list(range(first, last)) or any(full[a] != 1 for a in axes):
    raise ValueError(f"sum_rows_as_matmul: {g.shape} -> {shape} is not a sum over one run of axes")
  outer, rows = math.prod(g.shape[:first]), math.prod(g.shape[first:last])
  g3 = g.reshape(outer, rows, -1)
  summed = jnp.einsum("n,onf->of", jnp.ones((rows,), g.dtype), g3, preferred_element_type=jnp.float32)
  return summed.reshape(shape)


@jax.custom_vjp
def add_bias(x, bias):
  """x + bias (bias broadcast over a run of x's axes); its gradient for the bias is a matmul."""
  return x + bias


def _add_bias_fwd(x, bias):
  return x + bias, jnp.zeros(bias.shape, bias.dtype)


def _add_bias_bwd(bias_like, g):
  return g, sum_rows_as_matmul(g, bias_like.shape).astype(bias_like.dtype)


add_bias.defvjp(_add_bias_fwd, _add_bias_bwd)


@jax.custom_vjp
def scale_shift(centred, inv_std, scale, bias):
  """centred * (inv_std * scale) + bias, as flax's LayerNorm computes it; the column sums
  of the backward pass (the gradients of scale and bias) are matmuls."""
  return centred * (inv_std * scale) + bias


def _scale_shift_fwd(centred, inv_std, scale, bias):
  return scale_shift(centred, inv_std, scale, bias), (centred, inv_std, scale, jnp.zeros(bias.shape, bias.dtype))


def _scale_shift_bwd(saved, g):
  centred, inv_std, scale, bias_like = saved
  d_centred = g * (inv_std * scale)
  d_inv_std = jnp.sum(g * centred * scale, axis=-1, keepdims=True)   # A row sum: fast.
  d_scale = sum_rows_as_matmul(g * centred * inv_std, scale.shape).astype(scale.dtype)
  return d_centred, d_inv_std, d_scale, sum_rows_as_matmul(g, bias_like.shape).astype(bias_like.dtype)


scale_shift.defvjp(_scale_shift_fwd, _scale_shift_bwd)


class Norm(nn.Module):
  """LayerNorm or RMSNorm over the last axis, the forward pass as flax computes it (same
  parameters and names), the gradients of its scale and bias as matmuls (`scale_shift`)."""
  kind: str
  dtype: jnp.dtype
  epsilon: float = 1e-6

  @nn.compact
  def __call__(self, x):
    features = x.shape[-1]
    scale = self.param("scale", _param_init(nn.initializers.ones, ("embed",)), (features,))
    x32 = x.astype(jnp.float32)
    mean2 = jnp.mean(jnp.square(x32), axis=-1, keepdims=True)
    if self.kind == "rmsnorm":
      centred, var, bias = x32, mean2, jnp.zeros((features,), jnp.float32)
    else:
      bias = self.param("bias", _param_init(nn.initializers.zeros, ("embed",)), (features,))
      mean = jnp.mean(x32, axis=-1, keepdims=True)
      centred, var = x32 - mean, jnp.maximum(0.0, mean2 - jnp.square(mean))
    y = scale_shift(centred, jax.lax.rsqrt(var + self.epsilon), scale, bias)
    return y.astype(self.dtype)


class Dense(nn.Module):
  """nn.Dense's kernel, bias and product, with the bias added by `add_bias` (a matmul in the backward pass)."""
  features: int
  axes: tuple
  dtype: jnp.dtype

  @nn.compact
  def __call__(self, x):
    kernel = self.param("kernel", _param_init(_INIT, self.axes), (x.shape[-1], self.features))
    bias = self.param("bias", _param_init(nn.initializers.zeros, self.axes[1:]), (self.features,))
    y = jax.lax.dot_general(x.astype(self.dtype), kernel.astype(self.dtype), (((x.ndim - 1,), (0,)), ((), ())))
    return add_bias(y, bias.astype(self.dtype))


def _norm(kind: str, dtype, name: str):
  return Norm(kind, dtype, name=name)


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
    qkv = add_bias(jnp.einsum("bte,sehd->sbthd", x_BxTxE, qkv_kernel.astype(self.dtype)),
                   qkv_bias.astype(self.dtype)[:, None, None])
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
    return add_bias(jnp.einsum("bthd,hde->bte", out, out_kernel.astype(self.dtype)), out_bias.astype(self.dtype))

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
    h = Dense(self.mlp_dim, ("embed", "mlp"), self.dtype, name="mlp_in")(h)
    h = nn.gelu(nn.with_logical_constraint(h, ("batch", "length", "mlp")))
    h = Dense(embed, ("mlp", "embed"), self.dtype, name="mlp_out")(h)
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
      x = add_bias(x, jnp.take(table, positions_T, axis=0).astype(dtype)[None])
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
