"""HW3-1 reference solution: an LSTM reading an MNIST digit one pixel row at a time.

The 28x28 image is a sequence of 28 rows of 28 pixels; the LSTM's last hidden state is
classified by a linear layer.  PyTorch's fused nn.LSTM is used here (allowed: your own
LSTM layer is checked by the equivalence questions, and the fused one trains several
times faster within the grader's budget).
"""

from torch import nn


class RowLSTM(nn.Module):
    def __init__(self, hidden_size: int = 64):
        super().__init__()
        self.lstm = nn.LSTM(input_size=28, hidden_size=hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 10)

    def forward(self, x):
        rows = x.reshape(x.shape[0], 28, 28)  # (N, 1, 28, 28) -> (N, time=28 rows, 28 pixels)
        _, (h_n, _) = self.lstm(rows)
        return self.head(h_n[-1])


def build_model() -> nn.Module:
    return RowLSTM()
