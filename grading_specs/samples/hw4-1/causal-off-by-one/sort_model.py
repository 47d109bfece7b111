"""Sorting digits with three of my encoder layers (pre-norm), sinusoidal positions."""

import math

import torch
from attention import TransformerEncoderLayer
from torch import nn


class Sorter(nn.Module):
    def __init__(self, vocab_in, vocab_out, max_len, width=48):
        super().__init__()
        self.tok = nn.Embedding(vocab_in, width)
        pos = torch.arange(max_len)[:, None] * torch.exp(
            torch.arange(0, width, 2) * (-math.log(10000.0) / width)
        )
        table = torch.zeros(max_len, width)
        table[:, 0::2], table[:, 1::2] = torch.sin(pos), torch.cos(pos)
        self.register_buffer("pos", table)
        self.blocks = nn.ModuleList(
            TransformerEncoderLayer(width, 4, 96, dropout=0.0, batch_first=True, norm_first=True)
            for _ in range(3)
        )
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, vocab_out))

    def forward(self, src):
        pad = src.eq(0)
        x = self.tok(src) * math.sqrt(self.tok.embedding_dim) + self.pos[: src.size(1)]
        for block in self.blocks:
            x = block(x, src_key_padding_mask=pad)
        return self.out(x)


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return Sorter(src_vocab_size, tgt_vocab_size, max_len)
