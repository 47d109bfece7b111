"""HW2-3 Backpropagation by hand in numpy: the skeleton you complete (see README.md).

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
        raise NotImplementedError("Linear.__init__ is not written yet")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: (N, in_features).  Returns (N, out_features): x @ W + b."""
        raise NotImplementedError("Linear.forward is not written yet")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: (N, out_features), the gradient of the loss with respect to the output.
        Sets grads["W"] (in_features, out_features) and grads["b"] (out_features,), summed
        over the batch; returns dx (N, in_features)."""
        raise NotImplementedError("Linear.backward is not written yet")


class ReLU:
    """max(x, 0) element-wise; no parameters."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        raise NotImplementedError("ReLU.__init__ is not written yet")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape.  Returns max(x, 0), same shape."""
        raise NotImplementedError("ReLU.forward is not written yet")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: same shape as x.  Returns dx: dout where x > 0, else 0."""
        raise NotImplementedError("ReLU.backward is not written yet")


class Sigmoid:
    """1 / (1 + exp(-x)) element-wise; no parameters."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        raise NotImplementedError("Sigmoid.__init__ is not written yet")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape.  Returns sigmoid(x), same shape, computed without overflow for
        large |x|."""
        raise NotImplementedError("Sigmoid.forward is not written yet")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: same shape as x.  Returns dx = dout * s * (1 - s), s = sigmoid(x)."""
        raise NotImplementedError("Sigmoid.backward is not written yet")


class Tanh:
    """tanh(x) element-wise; no parameters."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        raise NotImplementedError("Tanh.__init__ is not written yet")

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x: any shape.  Returns tanh(x), same shape."""
        raise NotImplementedError("Tanh.forward is not written yet")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """dout: same shape as x.  Returns dx = dout * (1 - tanh(x)**2)."""
        raise NotImplementedError("Tanh.backward is not written yet")


class SoftmaxCrossEntropy:
    """Softmax over classes followed by the cross-entropy, averaged over the batch."""

    def __init__(self) -> None:
        """params and grads are empty dicts."""
        raise NotImplementedError("SoftmaxCrossEntropy.__init__ is not written yet")

    def forward(self, scores: np.ndarray, y: np.ndarray) -> float:
        """scores: (N, C) raw class scores (logits); y: (N,) integer labels in [0, C).
        Returns the mean over the batch of -log softmax(scores)[i, y[i]], a float.  Subtract
        each row's maximum first: exp of a large score overflows."""
        raise NotImplementedError("SoftmaxCrossEntropy.forward is not written yet")

    def backward(self) -> np.ndarray:
        """Returns dscores (N, C): (softmax(scores) - onehot(y)) / N."""
        raise NotImplementedError("SoftmaxCrossEntropy.backward is not written yet")


class TwoLayerNet:
    """x -> Linear(input_size, hidden_size) -> ReLU -> Linear(hidden_size, output_size)
    -> softmax cross-entropy."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, seed: int = 0) -> None:
        """params: "W1" (input_size, hidden_size), "b1" (hidden_size,), "W2" (hidden_size,
        output_size), "b2" (output_size,); weights He-initialised from
        np.random.default_rng(seed), biases zero.  grads starts empty."""
        raise NotImplementedError("TwoLayerNet.__init__ is not written yet")

    def scores(self, x: np.ndarray) -> np.ndarray:
        """x: (N, input_size).  Returns the class scores (N, output_size), keeping what
        backpropagation needs.  Reads the weights from self.params (the grader may replace
        its arrays)."""
        raise NotImplementedError("TwoLayerNet.scores is not written yet")

    def loss(self, x: np.ndarray, y: np.ndarray) -> float:
        """x: (N, input_size) floats; y: (N,) integer labels.  Returns the mean
        cross-entropy (a float) and sets grads["W1"], grads["b1"], grads["W2"],
        grads["b2"] (same shapes as params) by backpropagation."""
        raise NotImplementedError("TwoLayerNet.loss is not written yet")

    def predict(self, x: np.ndarray) -> np.ndarray:
        """x: (N, input_size).  Returns (N,) int64: the class with the largest score."""
        raise NotImplementedError("TwoLayerNet.predict is not written yet")


def build_model() -> TwoLayerNet:
    """The MNIST network the grader trains: TwoLayerNet(784, 128, 10) (seed 0).  Images
    come as (N, 784) float64 rows with values in [0, 1]."""
    raise NotImplementedError("build_model is not written yet")
