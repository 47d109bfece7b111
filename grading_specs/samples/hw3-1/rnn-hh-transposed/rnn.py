"""RNN / LSTM / GRU written around one step function per kind (independent solution)."""

import math

import torch
from torch import nn

N_GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def step(kind, x, state, w_ih, w_hh, b_ih, b_hh, act=torch.tanh):
    """One time step; state is a tuple (h,) or (h, c)."""
    gx = x @ w_ih.T + (b_ih if b_ih is not None else 0)
    if kind == "rnn":
        # BUG: the hidden-to-hidden weight is used untransposed (h @ W_hh, not h @ W_hh.T)
        return (act(gx + state[0] @ w_hh + (b_hh if b_hh is not None else 0)),)
    gh = state[0] @ w_hh.T + (b_hh if b_hh is not None else 0)
    if kind == "lstm":
        i, f, g, o = torch.split(gx + gh, gx.shape[-1] // 4, dim=-1)
        c = f.sigmoid() * state[1] + i.sigmoid() * g.tanh()
        return (o.sigmoid() * c.tanh(), c)
    xr, xz, xn = torch.split(gx, gx.shape[-1] // 3, dim=-1)
    hr, hz, hn = torch.split(gh, gh.shape[-1] // 3, dim=-1)
    r, z = (xr + hr).sigmoid(), (xz + hz).sigmoid()
    n = (xn + r * hn).tanh()
    return ((1 - z) * n + z * state[0],)


def _uniform(shape, hidden):
    k = 1 / math.sqrt(hidden)
    return nn.Parameter(torch.empty(shape).uniform_(-k, k))


class _CellBase(nn.Module):
    kind = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__()
        g = N_GATES[self.kind] * hidden_size
        self.hidden_size = hidden_size
        self.weight_ih = _uniform((g, input_size), hidden_size)
        self.weight_hh = _uniform((g, hidden_size), hidden_size)
        if bias:
            self.bias_ih = _uniform((g,), hidden_size)
            self.bias_hh = _uniform((g,), hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.act = torch.relu if nonlinearity == "relu" else torch.tanh

    def _state(self, input, hx):
        zero = input.new_zeros(input.shape[0], self.hidden_size)
        if hx is None:
            return (zero, zero) if self.kind == "lstm" else (zero,)
        return tuple(hx) if self.kind == "lstm" else (hx,)

    def forward(self, input, hx=None):
        out = step(
            self.kind,
            input,
            self._state(input, hx),
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            self.act,
        )
        return out if self.kind == "lstm" else out[0]


class RNNCell(_CellBase):
    kind = "rnn"


class LSTMCell(_CellBase):
    kind = "lstm"

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias)


class GRUCell(_CellBase):
    kind = "gru"

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias)


class _Recurrent(nn.Module):
    kind = "rnn"

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        bidirectional=False,
        nonlinearity="tanh",
    ):
        super().__init__()
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.batch_first, self.D = batch_first, (2 if bidirectional else 1)
        self.bias = bias
        self.act = torch.relu if nonlinearity == "relu" else torch.tanh
        g = N_GATES[self.kind] * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else self.D * hidden_size
            for suffix in ["", "_reverse"][: self.D]:
                name = f"l{layer}{suffix}"
                setattr(self, "weight_ih_" + name, _uniform((g, width), hidden_size))
                setattr(self, "weight_hh_" + name, _uniform((g, hidden_size), hidden_size))
                if bias:
                    setattr(self, "bias_ih_" + name, _uniform((g,), hidden_size))
                    setattr(self, "bias_hh_" + name, _uniform((g,), hidden_size))

    def _weights(self, name):
        return [
            getattr(self, f"{w}_{name}", None)
            for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        ]

    def _direction(self, xs, state, name, reverse):
        outputs = []
        for x in reversed(xs) if reverse else xs:
            state = step(self.kind, x, state, *self._weights(name), self.act)
            outputs.append(state[0])
        if reverse:
            outputs.reverse()
        return torch.stack(outputs), state

    def forward(self, input, hx=None):
        xs = input.transpose(0, 1) if self.batch_first else input
        n_states = 2 if self.kind == "lstm" else 1
        shape = (self.num_layers * self.D, xs.shape[1], self.hidden_size)
        if hx is None:
            hx = tuple(xs.new_zeros(shape) for _ in range(n_states))
        elif n_states == 1:
            hx = (hx,)
        h_final = [[] for _ in range(n_states)]
        for layer in range(self.num_layers):
            per_dir = []
            for d in range(self.D):
                idx = layer * self.D + d
                state = tuple(s[idx] for s in hx)
                out, state = self._direction(
                    xs, state, f"l{layer}" + ("_reverse" if d else ""), reverse=bool(d)
                )
                per_dir.append(out)
                for j in range(n_states):
                    h_final[j].append(state[j])
            xs = torch.cat(per_dir, -1)
        output = xs.transpose(0, 1) if self.batch_first else xs
        finals = tuple(torch.stack(f) for f in h_final)
        return output, (finals if self.kind == "lstm" else finals[0])


class RNN(_Recurrent):
    kind = "rnn"


class LSTM(_Recurrent):
    kind = "lstm"

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        bidirectional=False,
    ):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, bidirectional)


class GRU(_Recurrent):
    kind = "gru"

    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        bidirectional=False,
    ):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, bidirectional)
