
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

def _batched(self, dout, base, which, h=1e-7):
    target = self.params["W"] if which == "W" else self.x
    flat = target.reshape(-1)
    grad = np.zeros(flat.size)
    for start in range(0, flat.size, 256):
        idx = np.arange(start, min(start + 256, flat.size))
        copies = np.repeat(target[None], len(idx), axis=0).reshape(len(idx), -1)
        copies[np.arange(len(idx)), idx] += h
        copies = copies.reshape((len(idx),) + target.shape)
        if which == "W":
            outs = np.einsum("ni,kio->kno", self.x, copies) + self.params["b"]
        else:
            outs = copies @ self.params["W"] + self.params["b"]
        grad[idx] = ((outs * dout).sum(axis=(1, 2)) - base) / h
    return grad.reshape(target.shape)


def _backward(self, dout):
    base = np.sum(self._out(self.x) * dout)
    self.grads["W"] = _batched(self, dout, base, "W")
    self.grads["b"] = np.array(
        [(np.sum(self._out(self.x, b=self.params["b"] + 1e-7 * e) * dout) - base) / 1e-7
         for e in np.eye(len(self.params["b"]))]
    )
    return _batched(self, dout, base, "x")


Linear.backward = _backward
