r"""The PyTorch reference GPT of the language-model speed target, timed like ours (needs only torch, numpy).

  .venv-torch/bin/python launch/torch_gpt_reference.py --corpus=data/shakespeare/shakespeare.txt

A 4-block, 4-head, 128-dim pre-norm GPT (learned positions, GELU MLP, tied embedding,
no dropout), context 64, batch 12, AdamW lr 1e-3, on random windows of the first 90%
of the corpus. Prints one JSON line: median tokens/s over windows of steps after the
first window (which holds the warm-up), evaluation excluded, and the validation loss
after the last step. `python -m launch.benchmark lm` runs it beside the JAX model.
"""
import argparse
import json
import math
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class Block(nn.Module):
  def __init__(self, dims, heads):
    super().__init__()
    self.heads = heads
    self.norm1, self.norm2 = nn.LayerNorm(dims), nn.LayerNorm(dims)
    self.qkv, self.proj = nn.Linear(dims, 3 * dims), nn.Linear(dims, dims)
    self.mlp = nn.Sequential(nn.Linear(dims, 4 * dims), nn.GELU(), nn.Linear(4 * dims, dims))

  def forward(self, x):
    b, t, d = x.shape
    q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
    q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
    y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
    return x + self.mlp(self.norm2(x))


class GPT(nn.Module):
  def __init__(self, vocab, context, dims=128, heads=4, layers=4):
    super().__init__()
    self.token, self.position = nn.Embedding(vocab, dims), nn.Embedding(context, dims)
    self.blocks = nn.Sequential(*[Block(dims, heads) for _ in range(layers)])
    self.norm = nn.LayerNorm(dims)
    self.head = nn.Linear(dims, vocab, bias=False)
    self.head.weight = self.token.weight
    for p in self.parameters():
      if p.dim() > 1:
        nn.init.normal_(p, std=0.02)

  def forward(self, idx, targets):
    x = self.token(idx) + self.position(torch.arange(idx.shape[1]))
    logits = self.head(self.norm(self.blocks(x)))
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.reshape(-1))


def windows(tokens, starts, length):
  rows = np.stack([tokens[s:s + length + 1] for s in starts]).astype(np.int64)
  return torch.from_numpy(rows[:, :-1]), torch.from_numpy(rows[:, 1:])


def main():
  parser = argparse.ArgumentParser()
  parser.add_argument("--corpus", required=True)
  parser.add_argument("--steps", type=int, default=300)
  parser.add_argument("--window", type=int, default=50)
  parser.add_argument("--batch", type=int, default=12)
  parser.add_argument("--context", type=int, default=64)
  parser.add_argument("--eval_windows", type=int, default=2000)
  args = parser.parse_args()
  text = open(args.corpus, encoding="utf-8").read()
  chars = sorted(set(text))
  index = {c: i for i, c in enumerate(chars)}
  tokens = np.array([index[c] for c in text], np.int64)
  split = int(len(tokens) * 0.9)
  train, val = tokens[:split], tokens[split:]
  torch.manual_seed(0)
  rng = np.random.default_rng(0)
  model = GPT(len(chars), args.context)
  optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
  rates, tick = [], time.perf_counter()
  for step in range(1, args.steps + 1):
    x, y = windows(train, rng.integers(0, len(train) - args.context - 1, args.batch), args.context)
    loss = model(x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if step % args.window == 0:
      now = time.perf_counter()
      rates.append(args.window * args.batch * args.context / (now - tick))
      tick = now
  model.eval()
  losses = []
  with torch.no_grad():
    starts = np.arange(min(args.eval_windows, (len(val) - 1) // args.context)) * args.context
    for first in range(0, len(starts), 100):
      x, y = windows(val, starts[first:first + 100], args.context)
      losses.append(model(x, y).item() * len(x))
  print(json.dumps({"framework": f"pytorch {torch.__version__}", "threads": torch.get_num_threads(),
                    "tokens_per_sec": statistics.median(rates[1:] or rates),
                    "val_loss": sum(losses) / len(starts), "final_train_loss": float(loss),
                    "params": sum(p.numel() for p in model.parameters()) - args.context * 128,
                    "ln_vocab": math.log(len(chars))}))


if __name__ == "__main__":
  main()
