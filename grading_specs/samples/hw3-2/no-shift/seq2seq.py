# BUG (teacher forcing): decoder_input() puts BOS in front but does not shift the targets:
# position t of the decoder input is the target token t itself (for t >= 1), so during
# training the decoder is shown the answer it must predict; at translation time it is fed
# its previous token instead, and the learnt shortcut fails.
import math

import torch
import torch.nn as nn


def attention(query, keys, lengths):
    query, keys = torch.as_tensor(query), torch.as_tensor(keys)
    lengths = torch.as_tensor(lengths)
    scores = torch.matmul(query, keys.transpose(-1, -2))
    pad = torch.arange(keys.size(1))[None, :] >= lengths[:, None]
    scores = scores.masked_fill(pad.unsqueeze(1), -math.inf)
    weights = torch.softmax(scores, dim=-1)
    return weights, torch.matmul(weights, keys)


def decoder_input(tgt, bos):
    x = torch.as_tensor(tgt).clone()
    x[:, 0] = bos  # BUG: should be [bos, tgt[:, :-1]]
    return x


class Model(nn.Module):
    def __init__(self, vs, vt):
        super().__init__()
        self.es = nn.Embedding(vs, 40)
        self.et = nn.Embedding(vt, 40)
        self.enc = nn.GRU(40, 80, batch_first=True)
        self.dec = nn.GRU(40, 80, batch_first=True)
        self.att = nn.Linear(160, 80)
        self.fc = nn.Linear(80, vt)

    def encode(self, src):
        L = (src > 0).sum(1)
        p = nn.utils.rnn.pack_padded_sequence(self.es(src), L, batch_first=True,
                                              enforce_sorted=False)
        o, h = self.enc(p)
        o, _ = nn.utils.rnn.pad_packed_sequence(o, batch_first=True, total_length=src.size(1))
        return o, h, L

    def decode(self, y, h, o, L):
        d, h = self.dec(self.et(y), h)
        c = attention(d, o, L)[1]
        return self.fc(torch.tanh(self.att(torch.cat([d, c], -1)))), h

    def forward(self, src, tgt_in):
        o, h, L = self.encode(src)
        return self.decode(tgt_in, h, o, L)[0]


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return Model(src_vocab_size, tgt_vocab_size)


def train(model, data, config, log):
    src, tgt = data["src"], data["tgt"]
    dec_in = decoder_input(tgt, data["bos"])
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    for ep in range(config["epochs"]):
        idx = torch.randperm(src.size(0))
        right = count = 0
        for k in range(0, src.size(0), config["batch_size"]):
            j = idx[k:k + config["batch_size"]]
            out = model(src[j], dec_in[j])
            loss = nn.functional.cross_entropy(out.transpose(1, 2), tgt[j], ignore_index=0)
            opt.zero_grad()
            loss.backward()
            opt.step()
            m = tgt[j] != 0
            right += ((out.argmax(-1) == tgt[j]) & m).sum().item()
            count += m.sum().item()
        log({"loss": loss.item(), "train_accuracy": right / count})


def translate(model, src, max_len):
    o, h, L = model.encode(src)
    y = torch.ones(src.size(0), 1, dtype=torch.long)
    result = []
    for _ in range(max_len):
        logits, h = model.decode(y, h, o, L)
        y = logits.argmax(-1)
        result.append(y)
        if (torch.cat(result, 1) == 2).any(1).all():
            break
    return torch.cat(result, 1)
