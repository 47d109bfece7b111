import numpy as np


class Linear:
    def __init__(self, in_features, out_features, seed=0):
        rng = np.random.default_rng(seed)
        self.params = {"W": 0.05 * rng.standard_normal((in_features, out_features)),
                       "b": np.zeros(out_features)}
        self.grads = {"W": None, "b": None}

    def forward(self, x):
        self.inp = x
        return x @ self.params["W"] + self.params["b"]

    def backward(self, dout):
        # BUG: the weight gradient is transposed: (out, in) instead of W's (in, out)
        self.grads["W"] = dout.T @ self.inp
        self.grads["b"] = dout.sum(0)
        return dout @ self.params["W"].T


class ReLU:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.keep = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self.keep


class Sigmoid:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.s = np.exp(-np.logaddexp(0.0, -x))
        return self.s

    def backward(self, dout):
        return dout * self.s * (1.0 - self.s)


class Tanh:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, x):
        self.t = np.tanh(x)
        return self.t

    def backward(self, dout):
        return dout * (1.0 - self.t ** 2)


class SoftmaxCrossEntropy:
    def __init__(self):
        self.params = {}
        self.grads = {}

    def forward(self, scores, y):
        z = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        self.p, self.y = p, y
        return float(np.mean(-np.log(p[np.arange(len(y)), y])))

    def backward(self):
        d = self.p.copy()
        d[np.arange(len(self.y)), self.y] -= 1
        return d / len(self.y)


class TwoLayerNet:
    def __init__(self, input_size, hidden_size, output_size, seed=0):
        self.l1 = Linear(input_size, hidden_size, seed)
        self.act = ReLU()
        self.l2 = Linear(hidden_size, output_size, seed + 1)
        self.ce = SoftmaxCrossEntropy()
        self.params = {"W1": self.l1.params["W"], "b1": self.l1.params["b"],
                       "W2": self.l2.params["W"], "b2": self.l2.params["b"]}
        self.grads = {}

    def _logits(self, x):
        self.l1.params = {"W": self.params["W1"], "b": self.params["b1"]}
        self.l2.params = {"W": self.params["W2"], "b": self.params["b2"]}
        return self.l2.forward(self.act.forward(self.l1.forward(x)))

    def loss(self, x, y):
        value = self.ce.forward(self._logits(x), y)
        self.l1.backward(self.act.backward(self.l2.backward(self.ce.backward())))
        self.grads = {"W1": self.l1.grads["W"], "b1": self.l1.grads["b"],
                      "W2": self.l2.grads["W"], "b2": self.l2.grads["b"]}
        return value

    def predict(self, x):
        return self._logits(x).argmax(1)


def build_model():
    return TwoLayerNet(784, 100, 10)
