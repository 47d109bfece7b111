# BUG (training): the EOS token is treated like padding in the loss (the targets are
# "cleaned" of EOS before training), so the model never learns to stop: every greedy
# translation runs on to max_len.  Attention, decoder_input and decoding are right.
import torch
from torch import nn


def attention(query, keys, lengths):
    query = torch.as_tensor(query)
    keys = torch.as_tensor(keys)
    lengths = torch.as_tensor(lengths)
    B, S, _ = keys.shape
    mask = torch.arange(S).expand(B, S) < lengths.reshape(B, 1)
    scores = torch.bmm(query, keys.transpose(1, 2))
    scores = torch.where(mask[:, None, :], scores, torch.full_like(scores, float("-inf")))
    weights = scores.softmax(dim=-1)
    return weights, torch.bmm(weights, keys)


def decoder_input(tgt, bos):
    tgt = torch.as_tensor(tgt)
    return torch.cat((torch.full((tgt.shape[0], 1), bos, dtype=tgt.dtype), tgt[:, :-1]), dim=1)


class AttnSeq2Seq(nn.Module):
    def __init__(self, n_in, n_out, hidden=64):
        super().__init__()
        self.src_embed = nn.Embedding(n_in, 32, padding_idx=0)
        self.tgt_embed = nn.Embedding(n_out, 32, padding_idx=0)
        self.encoder = nn.GRU(32, hidden, batch_first=True)
        self.decoder = nn.GRU(32, hidden, batch_first=True)
        self.attn_out = nn.Linear(2 * hidden, hidden)
        self.classifier = nn.Linear(hidden, n_out)

    def run_encoder(self, src):
        lengths = (src != 0).sum(dim=1)
        packed = nn.utils.rnn.pack_padded_sequence(
            self.src_embed(src), lengths, batch_first=True, enforce_sorted=False
        )
        enc, h = self.encoder(packed)
        enc, _ = nn.utils.rnn.pad_packed_sequence(enc, batch_first=True, total_length=src.shape[1])
        return enc, h, lengths

    def run_decoder(self, inp, h, enc, lengths):
        out, h = self.decoder(self.tgt_embed(inp), h)
        _, ctx = attention(out, enc, lengths)
        return self.classifier(torch.tanh(self.attn_out(torch.cat((out, ctx), dim=2)))), h

    def forward(self, src, tgt_in):
        enc, h, lengths = self.run_encoder(src)
        return self.run_decoder(tgt_in, h, enc, lengths)[0]


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return AttnSeq2Seq(src_vocab_size, tgt_vocab_size)


def train(model, data, config, log):
    src, tgt = data["src"], data["tgt"].clone()
    tgt_in = decoder_input(tgt, data["bos"])
    tgt[tgt == data["eos"]] = data["pad"]  # BUG: EOS no longer counts in the loss
    opt = torch.optim.Adam(model.parameters(), lr=config["lr"])
    loss_fn = nn.CrossEntropyLoss(ignore_index=data["pad"])
    bs = config["batch_size"]
    for epoch in range(config["epochs"]):
        perm = torch.randperm(len(src))
        total = 0.0
        for start in range(0, len(src), bs):
            b = perm[start : start + bs]
            logits = model(src[b], tgt_in[b])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), tgt[b].reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            total += loss.item() * len(b)
        log({"loss": total / len(src)})


def translate(model, src, max_len):
    enc, h, lengths = model.run_encoder(src)
    prev = torch.full((src.shape[0], 1), 1, dtype=torch.long)
    out = []
    finished = torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(max_len):
        logits, h = model.run_decoder(prev, h, enc, lengths)
        prev = logits.argmax(dim=-1)
        out.append(prev)
        finished |= prev[:, 0] == 2
        if finished.all():
            break
    return torch.cat(out, dim=1)
