"""Recurrent cells and layers (independent solution: layers built from the cells)."""

import torch
from torch import nn


def _param(*shape):
    return nn.Parameter(torch.randn(*shape) * 0.1)


class _Cell(nn.Module):
    GATES = 1

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        rows = self.GATES * hidden_size
        self.weight_ih = _param(rows, input_size)
        self.weight_hh = _param(rows, hidden_size)
        self.bias_ih = _param(rows) if bias else None
        self.bias_hh = _param(rows) if bias else None

    def _lin(self, x, h):
        a = torch.matmul(x, self.weight_ih.t())
        b = torch.matmul(h, self.weight_hh.t())
        if self.bias_ih is not None:
            a = a + self.bias_ih
            b = b + self.bias_hh
        return a, b

    def zeros(self, x):
        return torch.zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)


class RNNCell(_Cell):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        self.act = torch.tanh if nonlinearity == "tanh" else torch.relu

    def forward(self, input, hx=None):
        h = self.zeros(input) if hx is None else hx
        a, b = self._lin(input, h)
        return self.act(a + b)


class LSTMCell(_Cell):
    GATES = 4

    def forward(self, input, hx=None):
        h, c = (self.zeros(input), self.zeros(input)) if hx is None else hx
        a, b = self._lin(input, h)
        z = a + b
        hs = self.hidden_size
        i = torch.sigmoid(z[:, 0:hs])
        f = torch.sigmoid(z[:, hs : 2 * hs])
        g = torch.tanh(z[:, 2 * hs : 3 * hs])
        o = torch.sigmoid(z[:, 3 * hs :])
        c2 = f * c + i * g
        return o * torch.tanh(c2), c2


class GRUCell(_Cell):
    GATES = 3

    def forward(self, input, hx=None):
        h = self.zeros(input) if hx is None else hx
        a, b = self._lin(input, h)
        hs = self.hidden_size
        r = torch.sigmoid(a[:, :hs] + b[:, :hs])
        z = torch.sigmoid(a[:, hs : 2 * hs] + b[:, hs : 2 * hs])
        # BUG: the reset gate applied to h before the hidden weights (and outside b_hn)
        w_hn = self.weight_hh[2 * hs :]
        b_hn = 0.0 if self.bias_hh is None else self.bias_hh[2 * hs :]
        n = torch.tanh(a[:, 2 * hs :] + torch.matmul(r * h, w_hn.t()) + b_hn)
        return n + z * (h - n)


class _Layer(nn.Module):
    CELL = RNNCell
    STATES = 1

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        bidirectional=False,
        **cell_kw,
    ):
        super().__init__()
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.dirs = 2 if bidirectional else 1
        self.hidden_size = hidden_size
        self._cells = []
        for k in range(num_layers):
            width = input_size if k == 0 else hidden_size * self.dirs
            for d in range(self.dirs):
                cell = self.CELL(width, hidden_size, bias, **cell_kw)
                sfx = f"_l{k}" + ("_reverse" if d else "")
                # register the cell's tensors under PyTorch's flat names
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    p = getattr(cell, name)
                    if p is not None:
                        self.register_parameter(name + sfx, p)
                self._cells.append((cell, sfx))

    def _cell(self, k, d):
        cell, sfx = self._cells[k * self.dirs + d]
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            p = getattr(self, name + sfx, None)
            if p is not None:
                setattr(cell, name, p)  # load_state_dict replaced nothing, but be safe
        return cell

    def forward(self, input, hx=None):
        x = input.transpose(0, 1) if self.batch_first else input
        steps, batch = x.shape[0], x.shape[1]
        if hx is None:
            z = torch.zeros(
                self.num_layers * self.dirs,
                batch,
                self.hidden_size,
                dtype=x.dtype,
                device=x.device,
            )
            hx = (z,) * self.STATES
        elif self.STATES == 1:
            hx = (hx,)
        finals = [[] for _ in range(self.STATES)]
        for k in range(self.num_layers):
            outs = []
            for d in range(self.dirs):
                cell = self._cell(k, d)
                state = tuple(s[k * self.dirs + d] for s in hx)
                order = range(steps) if d == 0 else reversed(range(steps))
                seq = {}
                for t in order:
                    new = cell(x[t], state if self.STATES > 1 else state[0])
                    state = new if isinstance(new, tuple) else (new,)
                    seq[t] = state[0]
                outs.append(torch.stack([seq[t] for t in range(steps)]))
                for j in range(self.STATES):
                    finals[j].append(state[j])
            x = torch.cat(outs, dim=2)
        out = x.transpose(0, 1) if self.batch_first else x
        finals = [torch.stack(f) for f in finals]
        return out, (finals[0] if self.STATES == 1 else tuple(finals))


class RNN(_Layer):
    CELL = RNNCell


class LSTM(_Layer):
    CELL = LSTMCell
    STATES = 2


class GRU(_Layer):
    CELL = GRUCell
