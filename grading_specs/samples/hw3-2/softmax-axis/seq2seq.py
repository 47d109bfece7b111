# BUG (attention): the softmax runs over dim 1, the decoder's time steps T, instead of the
# source positions S (the last axis): each column of weights sums to 1, not each row.
import torch
from torch import nn
from torch.nn import functional as F


def attention(query, keys, lengths):
    q = torch.as_tensor(query)
    k = torch.as_tensor(keys)
    n = torch.as_tensor(lengths)
    e = q @ k.transpose(1, 2)  # (B, T, S)
    keep = torch.arange(k.shape[1])[None, None, :] < n[:, None, None]
    e = e.masked_fill(~keep, -1e9)
    a = F.softmax(e, dim=1)  # BUG: should be dim=-1 (over S)
    a = a * keep
    return a, a @ k


def decoder_input(tgt, bos):
    tgt = torch.as_tensor(tgt)
    return F.pad(tgt[:, :-1], (1, 0), value=bos)


class Net(nn.Module):
    def __init__(self, a, b, h=64):
        super().__init__()
        self.ea, self.eb = nn.Embedding(a, 32), nn.Embedding(b, 32)
        self.enc, self.dec = nn.GRU(32, h, batch_first=True), nn.GRU(32, h, batch_first=True)
        self.mix, self.out = nn.Linear(2 * h, h), nn.Linear(h, b)

    def encode(self, src):
        n = (src != 0).sum(1)
        y, h = self.enc(nn.utils.rnn.pack_padded_sequence(self.ea(src), n, batch_first=True,
                                                          enforce_sorted=False))
        y = nn.utils.rnn.pad_packed_sequence(y, batch_first=True, total_length=src.shape[1])[0]
        return y, h, n

    def decode(self, x, h, keys, n):
        y, h = self.dec(self.eb(x), h)
        return self.out(torch.tanh(self.mix(torch.cat([y, attention(y, keys, n)[1]], -1)))), h

    def forward(self, src, tgt_in):
        keys, h, n = self.encode(src)
        return self.decode(tgt_in, h, keys, n)[0]


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return Net(src_vocab_size, tgt_vocab_size)


def train(model, data, config, log):
    src, tgt = data["src"], data["tgt"]
    x = decoder_input(tgt, data["bos"])
    opt = torch.optim.Adam(model.parameters(), config["lr"])
    for _ in range(config["epochs"]):
        for i in torch.randperm(len(src)).split(config["batch_size"]):
            loss = F.cross_entropy(model(src[i], x[i]).flatten(0, 1), tgt[i].flatten(),
                                   ignore_index=data["pad"])
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        log({"loss": loss.item()})


def translate(model, src, max_len):
    keys, h, n = model.encode(src)
    x = torch.full((len(src), 1), 1)
    out = []
    for _ in range(max_len):
        logits, h = model.decode(x, h, keys, n)
        x = logits.argmax(-1)
        out.append(x)
    return torch.cat(out, 1)
