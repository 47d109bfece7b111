"""HW2-3 Backpropagation by hand in numpy: reference solution.

Every layer follows one interface, which the grader calls:

    layer = Linear(in_features, out_features)   # or ReLU(), Sigmoid(), Tanh(), ...
    layer.params    # dict name -> numpy array (empty for layers without parameters); the
                    # grader may REPLACE its entries, so read them from here at every call
    out = layer.forward(x)       # remember what backward needs
    dx = layer.backward(dout)    # dout = dL/dout; returns dL/dx and fills layer.grads
    layer.grads     # dict with the same keys as params: dL/dparam, same shapes

The loss layer takes labels: loss = SoftmaxCrossEntropy().forward(scores, y) and
dscores = backward() (no argument: the loss is where backpropagation starts).
"""

from __future__ import annotations

import numpy as np


class Linear:
    """A fully connected layer: out = x @ W + b."""

    def __init__(self, in_features: int, out_features: int, seed: int = 0) -> None:
        """params["W"]: (in_features, out_features), He-initialised (normal with standard
        deviation sqrt(2 / in_features), from np.random.default_rng(seed));
        params["b"]: (out_features,) zeros.  grads starts empty."""
        rng = np.random.default_rng(seed)
        self.params = {
            "W": rng.normal(0.0, np.sqrt(2.0 / in_features), size=(in_features, out_features)),
            "b": np.zeros(out_features),
        }
        self.grads: dict[str, np.ndarray] = {}
        self.x: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, in_features).  Returns (N, out_features): x @ W + b."""
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, out_features), the gradient of the loss with respect to the output.
        Sets grads["W"] (in_features, out_features) and grads["b"] (out_features,), summed
        over the batch; returns dx (N, in_features)."""
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = dout.sum(axis=0)
        return dout @ self.params["W"].T


class ReLU:
    """max(x, 0) element-wise; no parameters."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape.  Returns max(x, 0), same shape."""
        self.mask = x > 0
        return np.where(self.mask, x, 0.0)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: same shape as x.  Returns dx: dout where x > 0, else 0."""
        return np.where(self.mask, dout, 0.0)


class Sigmoid:
    """1 / (1 + exp(-x)) element-wise; no parameters."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape.  Returns sigmoid(x), same shape, computed without overflow for
        large |x|."""
        e = np.exp(-np.abs(x))
        self.out = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: same shape as x.  Returns dx = dout * s * (1 - s), s = sigmoid(x)."""
        return dout * self.out * (1.0 - self.out)


class Tanh:
    """tanh(x) element-wise; no parameters."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape.  Returns tanh(x), same shape."""
        self.out = np.tanh(x)
        return self.out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: same shape as x.  Returns dx = dout * (1 - tanh(x)**2)."""
        return dout * (1.0 - self.out**2)


class SoftmaxCrossEntropy:
    """Softmax over classes followed by the cross-entropy, averaged over the batch."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}
        self.probs: np.ndarray | None = None
        self.y: np.ndarray | None = None

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        """scores: (N, C) raw class scores (logits); y: (N,) integer labels in [0, C).
        Returns the mean over the batch of -log softmax(scores)[i, y[i]], a float.  Subtract
        each row's maximum first: exp of a large score overflows."""
        shifted = scores - scores.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        self.probs = np.exp(log_probs)
        self.y = y
        return float(-log_probs[np.arange(len(y)), y].mean())

    def backward(self) -> np.ndarray:
        """Returns dscores (N, C): (softmax(scores) - onehot(y)) / N."""
        n = len(self.y)
        dscores = self.probs.copy()
        dscores[np.arange(n), self.y] -= 1.0
        return dscores / n


class TwoLayerNet:
    """x -> Linear(input_size, hidden_size) -> ReLU -> Linear(hidden_size, output_size)
    -> softmax cross-entropy."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, seed: int = 0) -> None:
        """params: "W1" (input_size, hidden_size), "b1" (hidden_size,), "W2" (hidden_size,
        output_size), "b2" (output_size,); weights He-initialised from
        np.random.default_rng(seed), biases zero.  grads starts empty."""
        self.fc1 = Linear(input_size, hidden_size, seed=seed)
        self.relu = ReLU()
        self.fc2 = Linear(hidden_size, output_size, seed=seed + 1)
        self.loss_layer = SoftmaxCrossEntropy()
        self.params = {
            "W1": self.fc1.params["W"],
            "b1": self.fc1.params["b"],
            "W2": self.fc2.params["W"],
            "b2": self.fc2.params["b"],
        }
        self.grads: dict[str, np.ndarray] = {}

    def scores(self, x: np.ndarray) -> np.ndarray:
        """x: (N, input_size).  Returns the class scores (N, output_size), keeping what
        backpropagation needs.  Reads the weights from self.params (the grader may replace
        its arrays)."""
        self.fc1.params.update(W=self.params["W1"], b=self.params["b1"])
        self.fc2.params.update(W=self.params["W2"], b=self.params["b2"])
        return self.fc2.forward(self.relu.forward(self.fc1.forward(x)))

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """x: (N, input_size) floats; y: (N,) integer labels.  Returns the mean
        cross-entropy (a float) and sets grads["W1"], grads["b1"], grads["W2"],
        grads["b2"] (same shapes as params) by backpropagation."""
        loss = self.loss_layer.forward(self.scores(x), y)
        dscores = self.loss_layer.backward()
        dhidden = self.relu.backward(self.fc2.backward(dscores))
        self.fc1.backward(dhidden)
        self.grads = {
            "W1": self.fc1.grads["W"],
            "b1": self.fc1.grads["b"],
            "W2": self.fc2.grads["W"],
            "b2": self.fc2.grads["b"],
        }
        return loss

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x: (N, input_size).  Returns (N,) int64: the class with the largest score."""
        return self.scores(x).argmax(axis=1).astype(np.int64)


def build_model() -> TwoLayerNet:
    """The MNIST network the grader trains: TwoLayerNet(784, 128, 10) (seed 0).  Images
    come as (N, 784) float64 rows with values in [0, 1]."""
    return TwoLayerNet(784, 128, 10, seed=0)
