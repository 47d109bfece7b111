"""HW3-1 reference solution: RNN, LSTM and GRU cells and layers written from scratch.

Each class has the constructor keywords, parameter names and shapes, and forward signature
and outputs of its PyTorch counterpart (nn.RNNCell, nn.LSTMCell, nn.GRUCell, nn.RNN,
nn.LSTM, nn.GRU), so that ``load_state_dict`` of the built-in's weights works with
``strict=True`` and the outputs can be compared number by number.
"""

from __future__ import annotations

import math

import torch
from torch import nn

GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _init_uniform(module: nn.Module, hidden_size: int) -> None:
    bound = 1.0 / math.sqrt(hidden_size)
    for p in module.parameters():
        nn.init.uniform_(p, -bound, bound)


def _affine(x, weight, bias):
    out = x @ weight.T
    return out if bias is None else out + bias


class _CellBase(nn.Module):
    kind = "rnn"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        g = GATES[self.kind] * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(g, input_size))
        self.weight_hh = nn.Parameter(torch.empty(g, hidden_size))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(g))
            self.bias_hh = nn.Parameter(torch.empty(g))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        _init_uniform(self, hidden_size)

    def _zeros(self, x):
        return x.new_zeros(x.shape[0], self.hidden_size)


class RNNCell(_CellBase):
    """h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)."""

    kind = "rnn"

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        super().__init__(input_size, hidden_size, bias)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"unknown nonlinearity {nonlinearity!r}")
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        h = self._zeros(input) if hx is None else hx
        pre = _affine(input, self.weight_ih, self.bias_ih) + _affine(
            h, self.weight_hh, self.bias_hh
        )
        return torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)


class LSTMCell(_CellBase):
    """Gates in PyTorch's order: input i, forget f, cell candidate g, output o."""

    kind = "lstm"

    def forward(self, input, hx=None):
        if hx is None:
            h, c = self._zeros(input), self._zeros(input)
        else:
            h, c = hx
        gates = _affine(input, self.weight_ih, self.bias_ih) + _affine(
            h, self.weight_hh, self.bias_hh
        )
        i, f, g, o = gates.chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h_new = torch.sigmoid(o) * torch.tanh(c_new)
        return h_new, c_new


class GRUCell(_CellBase):
    """Gates in PyTorch's order: reset r, update z, new n; the reset gate multiplies the
    hidden part of n *after* its bias: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    kind = "gru"

    def forward(self, input, hx=None):
        h = self._zeros(input) if hx is None else hx
        gi = _affine(input, self.weight_ih, self.bias_ih)
        gh = _affine(h, self.weight_hh, self.bias_hh)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


class _LayerBase(nn.Module):
    """A stack of layers, each one or two directions, over a whole sequence."""

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
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.bidirectional = bidirectional
        self.nonlinearity = nonlinearity
        directions = 2 if bidirectional else 1
        g = GATES[self.kind] * hidden_size
        for layer in range(num_layers):
            width = input_size if layer == 0 else directions * hidden_size
            for sfx in ("", "_reverse")[:directions]:
                setattr(self, f"weight_ih_l{layer}{sfx}", nn.Parameter(torch.empty(g, width)))
                setattr(self, f"weight_hh_l{layer}{sfx}", nn.Parameter(torch.empty(g, hidden_size)))
                if bias:
                    setattr(self, f"bias_ih_l{layer}{sfx}", nn.Parameter(torch.empty(g)))
                    setattr(self, f"bias_hh_l{layer}{sfx}", nn.Parameter(torch.empty(g)))
        _init_uniform(self, hidden_size)

    def _step(self, x, state, w_ih, w_hh, b_ih, b_hh):
        raise NotImplementedError

    def _params(self, layer, sfx):
        get = lambda name: getattr(self, f"{name}_l{layer}{sfx}", None)  # noqa: E731
        return get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh")

    def _run(self, x, hx):
        """x: (L, N, H_in); hx: a tuple of (layers*directions, N, H) tensors."""
        directions = 2 if self.bidirectional else 1
        length = x.shape[0]
        finals = [[] for _ in hx]
        layer_input = x
        for layer in range(self.num_layers):
            outs = []
            for d, sfx in enumerate(("", "_reverse")[:directions]):
                k = layer * directions + d
                state = tuple(s[k] for s in hx)
                params = self._params(layer, sfx)
                steps = range(length) if d == 0 else range(length - 1, -1, -1)
                seq = [None] * length
                for t in steps:
                    state = self._step(layer_input[t], state, *params)
                    seq[t] = state[0]
                outs.append(torch.stack(seq))
                for j, s in enumerate(state):
                    finals[j].append(s)
            layer_input = torch.cat(outs, dim=-1)
        return layer_input, tuple(torch.stack(f) for f in finals)

    def _prepare(self, input, hx, count):
        x = input.transpose(0, 1) if self.batch_first else input
        directions = 2 if self.bidirectional else 1
        if hx is None:
            zeros = x.new_zeros(self.num_layers * directions, x.shape[1], self.hidden_size)
            hx = tuple(zeros for _ in range(count))
        elif count == 1:
            hx = (hx,)
        return x, tuple(hx)

    def _finish(self, out):
        return out.transpose(0, 1) if self.batch_first else out


class RNN(_LayerBase):
    kind = "rnn"

    def _step(self, x, state, w_ih, w_hh, b_ih, b_hh):
        pre = _affine(x, w_ih, b_ih) + _affine(state[0], w_hh, b_hh)
        return (torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre),)

    def forward(self, input, hx=None):
        x, hx = self._prepare(input, hx, 1)
        out, (h_n,) = self._run(x, hx)
        return self._finish(out), h_n


class LSTM(_LayerBase):
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

    def _step(self, x, state, w_ih, w_hh, b_ih, b_hh):
        h, c = state
        i, f, g, o = (_affine(x, w_ih, b_ih) + _affine(h, w_hh, b_hh)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c

    def forward(self, input, hx=None):
        x, hx = self._prepare(input, hx, 2)
        out, (h_n, c_n) = self._run(x, hx)
        return self._finish(out), (h_n, c_n)


class GRU(_LayerBase):
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

    def _step(self, x, state, w_ih, w_hh, b_ih, b_hh):
        h = state[0]
        i_r, i_z, i_n = _affine(x, w_ih, b_ih).chunk(3, dim=-1)
        h_r, h_z, h_n = _affine(h, w_hh, b_hh).chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return ((1 - z) * n + z * h,)

    def forward(self, input, hx=None):
        x, hx = self._prepare(input, hx, 1)
        out, (h_n,) = self._run(x, hx)
        return self._finish(out), h_n
