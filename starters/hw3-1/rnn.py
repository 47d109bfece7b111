"""HW3-1: RNN, LSTM and GRU cells and layers, written by you with PyTorch tensors.

Every class must behave exactly like its torch.nn counterpart (see README.md):
  - the same constructor keywords (input_size, hidden_size, bias, num_layers, ...);
  - the same parameter names and shapes, so that the grader's
    ``model.load_state_dict(weights, strict=True)`` works (e.g. weight_ih, weight_hh,
    bias_ih, bias_hh for a cell; weight_ih_l0, ..., weight_hh_l1_reverse for a layer);
  - the same forward signature and outputs.
The grader converts your module to float64 (``model.to(torch.float64)``) and compares
its outputs with PyTorch's on random weights and inputs, so create new tensors with the
input's dtype (``x.new_zeros(...)``).  Do NOT use nn.RNN/nn.LSTM/nn.GRU, their Cell
versions, torch._VF or torch.lstm/gru here: this file is scanned for them.
"""

from __future__ import annotations

import torch
from torch import nn


class RNNCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        """Parameters: weight_ih (hidden_size, input_size), weight_hh (hidden_size,
        hidden_size), and if bias: bias_ih (hidden_size,), bias_hh (hidden_size,); with
        bias=False register them as None (self.register_parameter("bias_ih", None))."""
        super().__init__()
        raise NotImplementedError("RNNCell.__init__")

    def forward(self, input, hx=None):
        """input (N, input_size); hx (N, hidden_size) or None (zeros).  Return h' (N,
        hidden_size) = act(input @ W_ih^T + b_ih + hx @ W_hh^T + b_hh), act = tanh or relu."""
        raise NotImplementedError("RNNCell.forward")


class LSTMCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        """Parameters: weight_ih (4*hidden_size, input_size), weight_hh (4*hidden_size,
        hidden_size), bias_ih and bias_hh (4*hidden_size,).  The four row blocks are the
        gates i, f, g, o in that order."""
        super().__init__()
        raise NotImplementedError("LSTMCell.__init__")

    def forward(self, input, hx=None):
        """input (N, input_size); hx a tuple (h, c) of (N, hidden_size), or None (zeros).
        Return the tuple (h', c')."""
        raise NotImplementedError("LSTMCell.forward")


class GRUCell(nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        """Parameters: weight_ih (3*hidden_size, input_size), weight_hh (3*hidden_size,
        hidden_size), bias_ih and bias_hh (3*hidden_size,); gates r, z, n in that order."""
        super().__init__()
        raise NotImplementedError("GRUCell.__init__")

    def forward(self, input, hx=None):
        """input (N, input_size); hx (N, hidden_size) or None (zeros).  Return h'
        (N, hidden_size), with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""
        raise NotImplementedError("GRUCell.forward")


class RNN(nn.Module):
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
        """Per layer k and direction (suffix "" or "_reverse"): weight_ih_l{k}{sfx}
        (hidden_size, input_size if k == 0 else D*hidden_size), weight_hh_l{k}{sfx}
        (hidden_size, hidden_size), bias_ih_l{k}{sfx}, bias_hh_l{k}{sfx} (hidden_size,).
        D = 2 if bidirectional else 1."""
        super().__init__()
        raise NotImplementedError("RNN.__init__")

    def forward(self, input, hx=None):
        """input (L, N, input_size), or (N, L, input_size) if batch_first; hx
        (num_layers*D, N, hidden_size) or None.  Return (output, h_n): output (L, N,
        D*hidden_size) (batch first if batch_first), h_n (num_layers*D, N, hidden_size)."""
        raise NotImplementedError("RNN.forward")


class LSTM(nn.Module):
    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        bidirectional=False,
    ):
        """As RNN, with 4*hidden_size rows per weight and bias (gates i, f, g, o)."""
        super().__init__()
        raise NotImplementedError("LSTM.__init__")

    def forward(self, input, hx=None):
        """As RNN; hx is a tuple (h0, c0) or None.  Return (output, (h_n, c_n))."""
        raise NotImplementedError("LSTM.forward")


class GRU(nn.Module):
    def __init__(
        self,
        input_size,
        hidden_size,
        num_layers=1,
        bias=True,
        batch_first=False,
        bidirectional=False,
    ):
        """As RNN, with 3*hidden_size rows per weight and bias (gates r, z, n)."""
        super().__init__()
        raise NotImplementedError("GRU.__init__")

    def forward(self, input, hx=None):
        """As RNN.  Return (output, h_n)."""
        raise NotImplementedError("GRU.forward")


def _unused():  # keeps the torch import used until you write your code
    return torch
