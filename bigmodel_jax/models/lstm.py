"""LSTM language model: the source material's recurrent network, a baseline for the Transformer."""
import flax.linen as nn
import jax
import jax.numpy as jnp

from bigmodel_jax.config import checks as v
from bigmodel_jax.models.common import compute_dtype


class LSTM(nn.Module):
  """Embedding -> stacked LSTM layers (scanned over time) -> dense logits."""
  num_outputs: int                # Vocabulary size (set from the data).
  num_layers: int = 2
  embed_dim: int = 128
  hidden_dim: int = 256
  dropout: float = 0.0            # Between layers.
  dtype: str = "float32"

  CONFIG_CHECKS = {
      "num_layers": v.POSITIVE_INT, "embed_dim": v.POSITIVE_INT, "hidden_dim": v.POSITIVE_INT,
      "dropout": v.PROBABILITY, "dtype": v.one_of("float32", "bfloat16", "float16"),
  }
  SUPPORTS_CACHE = False

  @nn.compact
  def __call__(self, tokens_BxT, *, train: bool):
    dtype = compute_dtype(self.dtype)
    x = nn.Embed(self.num_outputs, self.embed_dim, dtype=dtype, name="token_embedding")(tokens_BxT)
    for i in range(self.num_layers):
      x = nn.RNN(nn.OptimizedLSTMCell(self.hidden_dim, dtype=dtype), name=f"lstm_{i}")(x)
      x = nn.Dropout(self.dropout, deterministic=not train)(x)
    return nn.Dense(self.num_outputs, dtype=dtype, name="logits")(x).astype(jnp.float32)

  def num_params(self, params, *, with_positions: bool = False) -> int:
    del with_positions
    return sum(x.size for x in jax.tree.leaves(params))

  def flops_per_token(self, num_params: int, context: int) -> float:
    """6N: every parameter is used in one multiply-add per token, forward, and twice backward."""
    del context
    return 6.0 * num_params
