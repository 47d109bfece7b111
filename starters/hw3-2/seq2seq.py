"""HW3-2: a GRU encoder-decoder with attention that reads Chinese number words and writes
the number in digits (三百零四 -> 304).  See README.md for the task and how it is graded.

Token ids: 0 <pad>, 1 <bos>, 2 <eos> in both vocabularies; the characters and digits follow
in an order drawn afresh for every submission (your model learns which id is which; the
grader hands you placeholders, not the tokens).  Sources are padded with PAD on the right;
targets are the digits followed by one EOS, then PAD.  Everything below runs inside the
grader's sandbox with torch and numpy.
"""

from __future__ import annotations

import torch  # noqa: F401  (you will need it)
from torch import nn  # noqa: F401

PAD, BOS, EOS = 0, 1, 2


def attention(query, keys, lengths):
    """Dot-product attention of every decoder state over the encoder states.

    query: (B, T, H) decoder states; keys: (B, S, H) encoder states (also the values);
    lengths: (B,) ints in [1, S], the real (unpadded) length of each source.
    Returns (weights, context): weights (B, T, S), a softmax over the S source positions
    that is exactly 0 at padded positions (s >= lengths[b]); context (B, T, H) = weights @ keys.
    Accepts numpy arrays or tensors; returns tensors.
    """
    raise NotImplementedError("attention: masked dot-product attention")


def decoder_input(tgt, bos):
    """Teacher forcing: the decoder's input for targets ``tgt`` (B, T) is BOS followed by
    the targets shifted right by one: [bos, tgt[:, 0], ..., tgt[:, T-2]] (B, T).
    Accepts a numpy array or a tensor; returns a tensor of the same integer dtype."""
    raise NotImplementedError("decoder_input: BOS + the targets shifted right")


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    """Return a fresh nn.Module (the same architecture every time: the grader builds it once
    to train and once more to load the trained weights, strictly).

    Its forward(src, tgt_in) takes src (B, S) and the decoder input tgt_in (B, T), both
    LongTensors, and returns logits (B, T, tgt_vocab_size): an embedding and a GRU encoder
    over the source, a GRU decoder over tgt_in started from the encoder's final state, and
    attention(decoder states, encoder states, source lengths) combined with the decoder
    states before the output layer.  max_len is the longest sequence you will be asked to
    decode (you may ignore it).
    """
    raise NotImplementedError("build_model: the GRU encoder-decoder with attention")


def train(model, data, config, log):
    """Train ``model`` in place with teacher forcing; return it (or None).

    data: {"src": LongTensor (N, S), "tgt": LongTensor (N, T), "src_vocab": [placeholders],
           "tgt_vocab": [placeholders], "pad": 0, "bos": 1, "eos": 2}, on config["device"].
    config: {"epochs", "batch_size", "lr", "seed", "optimizer", "clip_grad_norm",
             "max_len", "device", "wall_seconds"} (wall_seconds: the training budget;
             stop early rather than run past it).
    log: call log({"loss": float, "train_accuracy": float}) once per epoch: it draws your
         training curve in the feedback.
    The loss is cross-entropy over every target token INCLUDING EOS, ignoring PAD.
    """
    raise NotImplementedError("train: teacher-forcing training loop")


def translate(model, src, max_len):
    """Greedy decoding: src (N, S) LongTensor -> token ids (N, L) with L <= max_len (a
    LongTensor, or a list of N lists of ints).  Start every row from BOS, feed the argmax
    back in at each step, and stop a row at its EOS (keep the EOS; anything after it is
    ignored).  Called under torch.no_grad() with the model in eval() mode."""
    raise NotImplementedError("translate: greedy decoding until EOS")
