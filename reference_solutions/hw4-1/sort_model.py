"""HW4-1 question 4: a small Transformer encoder, built from YOUR TransformerEncoderLayer,
that sorts a string of digits (one output token per input position).

Source tokens: 0 <pad>, 1 <bos>, 2 <eos>, then the digits; the grader pads sources with 0
and trains ``build_model(...)(src)`` -> logits (N, S, tgt_vocab_size) with cross-entropy
(PAD positions ignored).  Sorting needs every position to see every other one: no causal
mask, only the padding mask.
"""

import torch
from attention import TransformerEncoderLayer
from torch import nn

PAD = 0


class SortEncoder(nn.Module):
    def __init__(
        self,
        src_vocab_size,
        tgt_vocab_size,
        max_len,
        d_model=64,
        nhead=4,
        num_layers=2,
        dim_feedforward=128,
    ):
        super().__init__()
        self.embed = nn.Embedding(src_vocab_size, d_model, padding_idx=PAD)
        self.position = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(
            TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.0, batch_first=True)
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, tgt_vocab_size)

    def forward(self, src):
        padding = src == PAD
        positions = torch.arange(src.shape[1], device=src.device)
        x = self.embed(src) + self.position(positions)[None]
        for layer in self.layers:
            x = layer(x, src_key_padding_mask=padding)
        return self.head(self.norm(x))


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return SortEncoder(src_vocab_size, tgt_vocab_size, max_len)
