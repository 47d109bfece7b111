# BUG (attention): lengths is ignored, so the padded source positions get attention weight
# too (the softmax runs over all S positions, padding included).
import torch
import torch.nn as nn

BOS, EOS = 1, 2


def attention(query, keys, lengths):
    query = torch.as_tensor(query)
    keys = torch.as_tensor(keys)
    scores = torch.einsum("bth,bsh->bts", query, keys)
    weights = torch.softmax(scores, dim=2)  # BUG: no mask for s >= lengths[b]
    context = torch.einsum("bts,bsh->bth", weights, keys)
    return weights, context


def decoder_input(tgt, bos):
    tgt = torch.as_tensor(tgt)
    shifted = torch.roll(tgt, shifts=1, dims=1)
    shifted[:, 0] = bos
    return shifted


class EncoderDecoder(nn.Module):
    def __init__(self, src_vocab, tgt_vocab):
        super().__init__()
        self.src_embedding = nn.Embedding(src_vocab, 32)
        self.tgt_embedding = nn.Embedding(tgt_vocab, 32)
        self.encoder_rnn = nn.GRU(32, 64, batch_first=True)
        self.decoder_rnn = nn.GRU(32, 64, batch_first=True)
        self.combine = nn.Linear(128, 64)
        self.generator = nn.Linear(64, tgt_vocab)

    def encode(self, src):
        states, hidden = self.encoder_rnn(self.src_embedding(src))
        return states, hidden, (src != 0).sum(1)

    def decode(self, tokens, hidden, states, lengths):
        out, hidden = self.decoder_rnn(self.tgt_embedding(tokens), hidden)
        _, context = attention(out, states, lengths)
        return self.generator(torch.tanh(self.combine(torch.cat([out, context], 2)))), hidden

    def forward(self, src, tgt_in):
        states, hidden, lengths = self.encode(src)
        return self.decode(tgt_in, hidden, states, lengths)[0]


def build_model(src_vocab_size, tgt_vocab_size, max_len):
    return EncoderDecoder(src_vocab_size, tgt_vocab_size)


def train(model, data, config, log):
    inputs = decoder_input(data["tgt"], data["bos"])
    optimizer = torch.optim.Adam(model.parameters(), lr=config["lr"])
    criterion = nn.CrossEntropyLoss(ignore_index=data["pad"])
    n = len(data["src"])
    for epoch in range(config["epochs"]):
        order = torch.randperm(n)
        for s in range(0, n, config["batch_size"]):
            b = order[s:s + config["batch_size"]]
            logits = model(data["src"][b], inputs[b])
            loss = criterion(logits.reshape(-1, logits.size(-1)), data["tgt"][b].reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        log({"loss": loss.item()})
    return model


def translate(model, src, max_len):
    states, hidden, lengths = model.encode(src)
    token = torch.full((src.size(0), 1), BOS, dtype=torch.long)
    pieces = []
    for _ in range(max_len):
        logits, hidden = model.decode(token, hidden, states, lengths)
        token = logits.argmax(2)
        pieces.append(token)
        if (torch.cat(pieces, 1) == EOS).any(1).all():
            break
    return torch.cat(pieces, 1)
