"""HW3-2 reference: a GRU encoder-decoder with (Luong, dot-product) attention that reads
Chinese number words and writes the number in digits (三百零四 -> 304).

Token ids: 0 <pad>, 1 <bos>, 2 <eos> in both vocabularies, then the task's tokens in an order
drawn per submission (nothing here depends on which id is which).  Sources are padded with
PAD on the right; targets are the digits followed by EOS, then PAD.
"""

from __future__ import annotations

import time

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

PAD, BOS, EOS = 0, 1, 2


def attention(query, keys, lengths):
    """Dot-product attention of every decoder state over the encoder states.

    query: (B, T, H) decoder states; keys: (B, S, H) encoder states (also the values);
    lengths: (B,) ints in [1, S], the real (unpadded) length of each source.
    Returns (weights, context): weights (B, T, S), a softmax over the S source positions
    that is exactly 0 at padded positions (s >= lengths[b]); context (B, T, H) = weights @ keys.
    Accepts numpy arrays or tensors; returns tensors.
    """
    query, keys = torch.as_tensor(query), torch.as_tensor(keys)
    lengths = torch.as_tensor(lengths, device=keys.device)
    scores = query @ keys.transpose(1, 2)  # (B, T, S)
    positions = torch.arange(keys.shape[1], device=keys.device)
    padded = positions[None, None, :] >= lengths[:, None, None]
    scores = scores.masked_fill(padded, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights, weights @ keys


def decoder_input(tgt, bos):
    """Teacher forcing: the decoder's input for targets ``tgt`` (B, T) is BOS followed by
    the targets shifted right by one: [bos, tgt[:, 0], ..., tgt[:, T-2]] (B, T).
    Accepts a numpy array or a tensor; returns a tensor of the same integer dtype."""
    tgt = torch.as_tensor(tgt)
    first = torch.full_like(tgt[:, :1], bos)
    return torch.cat([first, tgt[:, :-1]], dim=1)


class Seq2Seq(nn.Module):
    def __init__(self, src_vocab_size, tgt_vocab_size, emb=32, hidden=64):
        super().__init__()
        self.src_emb = nn.Embedding(src_vocab_size, emb, padding_idx=PAD)
        self.tgt_emb = nn.Embedding(tgt_vocab_size, emb, padding_idx=PAD)
        self.encoder = nn.GRU(emb, hidden, batch_first=True)
        self.decoder = nn.GRU(emb, hidden, batch_first=True)
        self.combine = nn.Linear(2 * hidden, hidden)
        self.out = nn.Linear(hidden, tgt_vocab_size)

    def encode(self, src):
        lengths = (src != PAD).sum(dim=1)
        packed = pack_padded_sequence(
            self.src_emb(src), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        states, h = self.encoder(packed)  # h: the state after each source's last real token
        states, _ = pad_packed_sequence(states, batch_first=True, total_length=src.shape[1])
        return states, h, lengths

    def decode(self, tgt_in, h, states, lengths):
        y, h = self.decoder(self.tgt_emb(tgt_in), h)
        _, context = attention(y, states, lengths)
        return self.out(torch.tanh(self.combine(torch.cat([y, context], dim=-1)))), h

    def forward(self, src, tgt_in):
        states, h, lengths = self.encode(src)
        logits, _ = self.decode(tgt_in, h, states, lengths)
        return logits


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    """The model: forward(src (B, S), tgt_in (B, T)) -> logits (B, T, tgt_vocab_size)."""
    return Seq2Seq(src_vocab_size, tgt_vocab_size)


def train(model, data, config, log):
    """Teacher forcing with cross-entropy over the target tokens (EOS included, PAD not)."""
    torch.manual_seed(config["seed"])
    src, tgt = data["src"], data["tgt"]
    tgt_in = decoder_input(tgt, data["bos"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt,
        max_lr=config["lr"],
        total_steps=config["epochs"] * -(-len(src) // config["batch_size"]),
    )
    loss_fn = nn.CrossEntropyLoss(ignore_index=data["pad"])
    started = time.monotonic()
    for _ in range(config["epochs"]):
        model.train()
        order = torch.randperm(len(src), device=src.device)
        total, correct, tokens = 0.0, 0, 0
        for i in range(0, len(src), config["batch_size"]):
            idx = order[i : i + config["batch_size"]]
            logits = model(src[idx], tgt_in[idx])
            loss = loss_fn(logits.flatten(0, 1), tgt[idx].flatten())
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), config["clip_grad_norm"] or 1.0)
            opt.step()
            sched.step()
            mask = tgt[idx] != data["pad"]
            total += loss.item() * int(mask.sum())
            correct += int(((logits.argmax(-1) == tgt[idx]) & mask).sum())
            tokens += int(mask.sum())
            if time.monotonic() - started > 0.85 * config["wall_seconds"]:
                break  # keep what was learned rather than be stopped by the budget
        log({"loss": total / tokens, "train_accuracy": correct / tokens})
        if time.monotonic() - started > 0.85 * config["wall_seconds"]:
            break
    return model


def translate(model, src, max_len):
    """Greedy decoding: (N, L) token ids, L <= max_len; each row ends with EOS (PAD after)."""
    states, h, lengths = model.encode(src)
    token = torch.full((len(src), 1), BOS, dtype=torch.long, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    out = []
    for _ in range(max_len):
        logits, h = model.decode(token, h, states, lengths)
        token = logits.argmax(-1)  # (N, 1)
        token = token.masked_fill(done[:, None], PAD)
        out.append(token)
        done |= token[:, 0] == EOS
        if done.all():
            break
    return torch.cat(out, dim=1)
