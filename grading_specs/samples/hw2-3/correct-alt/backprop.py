"""Backprop in numpy (an independent solution: layers cache their inputs in a tuple, the
sigmoid goes through tanh, the network is a list of layers with its own SGD-ready params)."""

import numpy as np


class Linear:
    def __init__(self, in_features, out_features, seed=0):
        gen = np.random.RandomState(seed)
        limit = np.sqrt(6.0 / (in_features + out_features))  # Glorot uniform
        self.params = {
            "W": gen.uniform(-limit, limit, (in_features, out_features)),
            "b": np.zeros((out_features,)),
        }
        self.grads = {}
        self._cache = ()

    def forward(self, x):
        self._cache = (x,)
        return np.dot(x, self.params["W"]) + self.params["b"][None, :]

    def backward(self, dout):
        (x,) = self._cache
        self.grads = {"W": np.dot(x.T, dout), "b": np.einsum("no->o", dout)}
        return np.dot(dout, self.params["W"].T)


class ReLU:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self._positive = (x > 0).astype(x.dtype)
        return x * self._positive

    def backward(self, dout):
        return dout * self._positive


class Sigmoid:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self._y = 0.5 * (np.tanh(0.5 * x) + 1.0)  # the same function, no overflow
        return self._y

    def backward(self, dout):
        return dout * self._y * (1 - self._y)


class Tanh:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, x):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dout):
        return dout - dout * self._y * self._y


class SoftmaxCrossEntropy:
    def __init__(self):
        self.params, self.grads = {}, {}

    def forward(self, scores, y):
        m = np.max(scores, axis=-1, keepdims=True)
        lse = m[:, 0] + np.log(np.sum(np.exp(scores - m), axis=-1))
        n = scores.shape[0]
        self._p = np.exp(scores - lse[:, None])
        self._onehot = np.eye(scores.shape[1])[y]
        return np.sum(lse - scores[np.arange(n), y]) / n

    def backward(self):
        return (self._p - self._onehot) / self._p.shape[0]


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, seed=0):
        self.layers = [
            Linear(input_size, hidden_size, seed),
            ReLU(),
            Linear(hidden_size, output_size, seed + 7),
        ]
        self.criterion = SoftmaxCrossEntropy()
        self.params = {}
        for k, layer in ((1, self.layers[0]), (2, self.layers[2])):
            self.params[f"W{k}"] = layer.params["W"]
            self.params[f"b{k}"] = layer.params["b"]
        self.grads = {}

    def _sync(self):
        for k, layer in ((1, self.layers[0]), (2, self.layers[2])):
            layer.params = {"W": self.params[f"W{k}"], "b": self.params[f"b{k}"]}

    def _forward(self, x):
        self._sync()
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def loss(self, x, y):
        value = self.criterion.forward(self._forward(x), y)
        grad = self.criterion.backward()
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        for k, layer in ((1, self.layers[0]), (2, self.layers[2])):
            self.grads[f"W{k}"] = layer.grads["W"]
            self.grads[f"b{k}"] = layer.grads["b"]
        return value

    def predict(self, x):
        return np.argmax(self._forward(x), axis=1)


def build_model():
    return TwoLayerNet(784, 160, 10, seed=3)
