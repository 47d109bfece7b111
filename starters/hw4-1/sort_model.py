"""HW4-1 question 4: a small Transformer encoder, built from YOUR TransformerEncoderLayer
(attention.py), that sorts a string of digits.  The grader trains it (see README.md)."""

from attention import TransformerEncoderLayer  # noqa: F401  (use your own layer)
from torch import nn


def build_model(src_vocab_size, tgt_vocab_size, max_len) -> nn.Module:
    """Return an nn.Module whose forward(src) maps token ids src (N, S) (int64, 0 = padding,
    S <= max_len) to logits (N, S, tgt_vocab_size): one prediction per source position, the
    digit that belongs there once the string is sorted."""
    raise NotImplementedError("build_model")
