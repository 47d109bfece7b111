
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

def _backward(self, dout, h=1e-7):
    W = self.params["W"]
    base = np.sum(self._out(self.x) * dout)
    grad = np.zeros(W.size)
    for start in range(0, W.size, 4096):
        idx = np.arange(start, min(start + 4096, W.size))
        bumps = np.zeros((len(idx), W.size))
        bumps[np.arange(len(idx)), idx] = h
        copies = (W.reshape(1, -1) + bumps).reshape((len(idx),) + W.shape)
        outs = np.einsum("ni,kio->kno", self.x, copies) + self.params["b"]
        grad[idx] = ((outs * dout).sum(axis=(1, 2)) - base) / h
    self.grads["W"] = grad.reshape(W.shape)
    self.grads["b"] = dout.sum(axis=0)
    return dout @ W.T


Linear.backward = _backward
