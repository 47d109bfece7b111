"""HW4-1: attention and a Transformer encoder layer, written by you with tensor operations.

Each piece must behave exactly like PyTorch's (see README.md): the same signature, the
same parameter names and shapes (the grader loads its weights with
``load_state_dict(..., strict=True)``), the same outputs.  The grader converts modules to
float64 and calls them in eval mode under torch.no_grad().  Do NOT use
F.scaled_dot_product_attention, nn.MultiheadAttention, nn.TransformerEncoderLayer or
nn.TransformerEncoder in this file: it is scanned for them.

A query whose keys are ALL masked attends to nothing: its attention weights are zero and
its attention output is zero (not NaN).
"""

from __future__ import annotations

import torch
from torch import nn


def scaled_dot_product_attention(query, key, value, attn_mask=None, is_causal=False):
    """query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev):
    softmax(query @ key^T / sqrt(E)) @ value.  attn_mask: None or a bool tensor
    broadcastable to (..., L, S), True where the query MAY attend to the key.
    is_causal=True: query i may attend to keys 0..i only.  Fully masked rows -> zeros."""
    raise NotImplementedError("scaled_dot_product_attention")


class MultiheadAttention(nn.Module):
    def __init__(self, embed_dim, num_heads, bias=True, batch_first=False):
        """Parameters: in_proj_weight (3*embed_dim, embed_dim) = [W_q; W_k; W_v],
        in_proj_bias (3*embed_dim,), and out_proj = nn.Linear(embed_dim, embed_dim)
        (out_proj.weight, out_proj.bias)."""
        super().__init__()
        raise NotImplementedError("MultiheadAttention.__init__")

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
        """query (L, N, E), key and value (S, N, E) ((N, L, E) if batch_first).
        key_padding_mask: None or bool (N, S), True = padding (ignored key).
        attn_mask: None or bool (L, S), True = NOT allowed.
        Return (attn_output like query, attn_weights (N, L, S) averaged over the heads)."""
        raise NotImplementedError("MultiheadAttention.forward")


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
        """Submodules (their names matter): self_attn = your MultiheadAttention,
        linear1 (d_model -> dim_feedforward), linear2 (dim_feedforward -> d_model),
        norm1, norm2 (nn.LayerNorm(d_model, eps=layer_norm_eps)), dropouts as you like.
        activation: "relu" or "gelu"."""
        super().__init__()
        raise NotImplementedError("TransformerEncoderLayer.__init__")

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        """src (L, N, E) or (N, L, E) if batch_first; masks as for MultiheadAttention.
        Post-norm: x = norm1(x + SA(x)); x = norm2(x + FF(x)).
        norm_first: x = x + SA(norm1(x)); x = x + FF(norm2(x)).  Return x."""
        raise NotImplementedError("TransformerEncoderLayer.forward")


def _unused():  # keeps the torch import used until you write your code
    return torch
