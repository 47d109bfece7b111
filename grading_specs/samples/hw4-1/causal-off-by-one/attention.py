"""Attention, multi-head attention and an encoder layer (independent solution, einsum)."""

import math

import torch
from torch import nn


def _masked_softmax(scores, keep):
    """Softmax over the last axis where ``keep``; rows with nothing kept become zeros."""
    if keep is None:
        return torch.softmax(scores, dim=-1)
    scores = torch.where(keep, scores, torch.full_like(scores, -math.inf))
    any_kept = keep.any(dim=-1, keepdim=True)
    scores = torch.where(any_kept, scores, torch.zeros_like(scores))
    probs = torch.softmax(scores, dim=-1)
    return torch.where(keep & any_kept, probs, torch.zeros_like(probs))


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False):
    d = query.size(-1)
    scores = torch.einsum("...le,...se->...ls", query, key) / math.sqrt(d)
    keep = None
    if is_causal:
        rows = torch.arange(query.size(-2), device=query.device)[:, None]
        cols = torch.arange(key.size(-2), device=query.device)[None, :]
        keep = cols <= rows + 1  # BUG: lets query i also see key i + 1
    if attn_mask is not None:
        keep = attn_mask if keep is None else keep & attn_mask
    keep = None if keep is None else keep.expand(scores.shape)
    return torch.einsum("...ls,...sv->...lv", _masked_softmax(scores, keep), value)


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True, batch_first=False):
        super().__init__()
        self.e, self.h, self.batch_first = embed_dim, num_heads, batch_first
        self.in_proj_weight = nn.Parameter(torch.randn(3 * embed_dim, embed_dim) / embed_dim)
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim))
        self.out_proj = nn.Linear(embed_dim, embed_dim)

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
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        wq, wk, wv = self.in_proj_weight.chunk(3)
        bq, bk, bv = self.in_proj_bias.chunk(3)
        n, lq, lk, d = query.size(0), query.size(1), key.size(1), self.e // self.h

        def heads(x, w, b):
            y = torch.einsum("nle,fe->nlf", x, w) + b
            return y.view(n, x.size(1), self.h, d).permute(0, 2, 1, 3)

        q, k, v = heads(query, wq, bq), heads(key, wk, bk), heads(value, wv, bv)
        scores = torch.einsum("nhld,nhsd->nhls", q, k) / math.sqrt(d)
        keep = torch.ones(n, self.h, lq, lk, dtype=torch.bool, device=q.device)
        if attn_mask is not None:
            keep = keep & ~attn_mask
        if key_padding_mask is not None:
            keep = keep & ~key_padding_mask.view(n, 1, 1, lk)
        probs = _masked_softmax(scores, keep)
        ctx = torch.einsum("nhls,nhsd->nlhd", probs, v).reshape(n, lq, self.e)
        out = self.out_proj(ctx)
        if not self.batch_first:
            out = out.transpose(0, 1)
        weights = probs.mean(1) if average_attn_weights else probs
        return out, (weights if need_weights else None)


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
        self.drop = nn.Dropout(dropout)
        self.act = nn.GELU() if activation == "gelu" else nn.ReLU()
        self.norm_first = norm_first

    def block_attention(self, x, mask, pad):
        return self.drop(self.self_attn(x, x, x, key_padding_mask=pad, attn_mask=mask)[0])

    def block_ff(self, x):
        return self.drop(self.linear2(self.drop(self.act(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        if self.norm_first:
            h = src + self.block_attention(self.norm1(src), src_mask, src_key_padding_mask)
            return h + self.block_ff(self.norm2(h))
        h = self.norm1(src + self.block_attention(src, src_mask, src_key_padding_mask))
        return self.norm2(h + self.block_ff(h))
