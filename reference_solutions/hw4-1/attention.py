"""HW4-1 reference solution: scaled dot-product attention, multi-head attention and a
Transformer encoder layer, written with plain tensor operations.

Interfaces (what the grader relies on) are PyTorch's:
- scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False) as
  torch.nn.functional.scaled_dot_product_attention: a boolean attn_mask is True where a
  query MAY attend; is_causal masks keys after the query (top-left aligned);
- MultiheadAttention as torch.nn.MultiheadAttention: boolean attn_mask (L, S) and
  key_padding_mask (N, S) are True where attention is NOT allowed;
- TransformerEncoderLayer as torch.nn.TransformerEncoderLayer (post-norm or norm_first).
A query row whose keys are all masked attends to nothing: zero weights, zero output.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def attention(query, key, value, allowed=None):
    """(output, weights) of softmax(q k^T / sqrt(d)) v; ``allowed`` (broadcastable to the
    scores) is True where a query may attend.  Fully masked rows give zeros."""
    scores = query @ key.transpose(-2, -1) / math.sqrt(query.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    if allowed is not None:
        weights = weights.masked_fill(~allowed.any(dim=-1, keepdim=True), 0.0)
    return weights @ value, weights


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False):
    """query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev)."""
    length, source = query.shape[-2], key.shape[-2]
    allowed = None
    if is_causal:
        allowed = torch.ones(length, source, dtype=torch.bool, device=query.device).tril()
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            allowed = attn_mask if allowed is None else allowed & attn_mask
        else:  # an additive float mask
            query_scale = math.sqrt(query.shape[-1])
            scores = query @ key.transpose(-2, -1) / query_scale + attn_mask
            if allowed is not None:
                scores = scores.masked_fill(~allowed, float("-inf"))
            return torch.softmax(scores, dim=-1) @ value
    return attention(query, key, value, allowed)[0]


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True, batch_first=False):
        super().__init__()
        if embed_dim % num_heads:
            raise ValueError("embed_dim must be divisible by num_heads")
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.batch_first = batch_first
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)

    def _split(self, x):  # (N, L, E) -> (N, heads, L, head_dim)
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, -1).transpose(1, 2)

    def forward(
        self,
        query,
        key,
        value,
        key_padding_mask=None,
        need_weights=True,
        attn_mask=None,
        average_attn_weights=True,
    ):
        if not self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        e = self.embed_dim
        w, b = self.in_proj_weight, self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e : 2 * e], b[2 * e :])
        q = self._split(F.linear(query, w[:e], bq))
        k = self._split(F.linear(key, w[e : 2 * e], bk))
        v = self._split(F.linear(value, w[2 * e :], bv))
        n, length, source = query.shape[0], query.shape[1], key.shape[1]
        allowed = torch.ones(n, 1, length, source, dtype=torch.bool, device=query.device)
        if attn_mask is not None:
            allowed = allowed & ~attn_mask.bool()
        if key_padding_mask is not None:
            allowed = allowed & ~key_padding_mask.bool()[:, None, None, :]
        out, weights = attention(q, k, v, allowed)
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, e))
        if not self.batch_first:
            out = out.transpose(0, 1)
        if not need_weights:
            return out, None
        return out, (weights.mean(dim=1) if average_attn_weights else weights)


class TransformerEncoderLayer(nn.Module):
    def __init__(
        self,
        d_model,
        nhead,
        dim_feedforward=2048,
        dropout=0.1,
        activation="relu",
        layer_norm_eps=1e-5,
        batch_first=False,
        norm_first=False,
    ):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, batch_first=batch_first)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout = nn.Dropout(dropout)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = F.gelu if activation == "gelu" else F.relu
        self.norm_first = norm_first

    def _sa(self, x, mask, padding):
        out = self.self_attn(x, x, x, key_padding_mask=padding, attn_mask=mask, need_weights=False)
        return self.dropout1(out[0])

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask))
        return self.norm2(x + self._ff(x))
