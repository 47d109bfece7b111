import numpy as np


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -500, 500)))


class Linear:
    def __init__(self, in_features, out_features, seed=0):
        np.random.seed(seed)
        self.params = {"W": np.random.randn(in_features, out_features) * np.sqrt(2 / in_features),
                       "b": np.zeros(out_features)}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        self.grads["W"] = self.x.T @ dout
        self.grads["b"] = np.sum(dout, axis=0)
        return dout @ self.params["W"].T


class ReLU:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.m = x > 0
        return x * self.m

    def backward(self, dout):
        return dout * self.m


class Sigmoid:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return _sigmoid(x)

    def backward(self, dout):
        # BUG: sigmoid'(x) is s * (1 - s) with s = sigmoid(x); this applies the formula
        # to x itself
        return dout * self.x * (1 - self.x)


class Tanh:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.x = x
        return np.tanh(x)

    def backward(self, dout):
        return dout / np.cosh(self.x) ** 2


class SoftmaxCrossEntropy:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, scores, y):
        s = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(s)
        self.prob = e / e.sum(axis=1, keepdims=True)
        self.y = y
        return -np.log(self.prob[np.arange(len(y)), y]).mean()

    def backward(self):
        g = self.prob.copy()
        g[np.arange(len(self.y)), self.y] -= 1
        return g / len(self.y)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, seed=0):
        self.params = {
            "W1": np.random.default_rng(seed).normal(0, np.sqrt(2 / input_size), (input_size, hidden_size)),
            "b1": np.zeros(hidden_size),
            "W2": np.random.default_rng(seed + 1).normal(0, np.sqrt(2 / hidden_size), (hidden_size, output_size)),
            "b2": np.zeros(output_size),
        }
        self.grads = {}

    def loss(self, x, y):
        p = self.params
        h_pre = x @ p["W1"] + p["b1"]
        h = np.maximum(h_pre, 0)
        ce = SoftmaxCrossEntropy()
        value = ce.forward(h @ p["W2"] + p["b2"], y)
        ds = ce.backward()
        dh = (ds @ p["W2"].T) * (h_pre > 0)
        self.grads = {"W1": x.T @ dh, "b1": dh.sum(0), "W2": h.T @ ds, "b2": ds.sum(0)}
        return value

    def predict(self, x):
        p = self.params
        return (np.maximum(x @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]).argmax(axis=1)


def build_model():
    return TwoLayerNet(784, 128, 10)
