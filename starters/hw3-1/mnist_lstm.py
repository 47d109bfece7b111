"""HW3-1 question 3: an LSTM that reads an MNIST digit one pixel row at a time.

You may use torch.nn.LSTM here (your own layer is graded in rnn.py).  The grader calls
build_model() and trains the model with its own loop (see README.md).
"""

from torch import nn


def build_model() -> nn.Module:
    """Return an nn.Module mapping images (N, 1, 28, 28) (float32 in [0, 1]) to logits
    (N, 10): reshape to (N, 28, 28) = 28 time steps of 28 pixels, run an LSTM
    (batch_first=True) and classify its last hidden state with a Linear layer."""
    raise NotImplementedError("build_model")
