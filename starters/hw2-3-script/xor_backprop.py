# HW2-3 (script): backpropagation by hand, in the course's own form: a two-layer sigmoid
# network learns XOR with weight updates written out in numpy, printing its predictions
# before and after training.  Fill in every TODO; keep the rest as it is.
import os

import numpy as np

# The data: each input with a constant 1 in front (the bias), and XOR of the other two.
X = np.array([[1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]], dtype=float)
Y = np.array([[0], [1], [1], [0]], dtype=float)

rng = np.random.default_rng(int(os.environ.get("HW_SEED", "0")))
hidden = 4
V = rng.uniform(-1, 1, size=(3, hidden))  # input -> hidden
W = rng.uniform(-1, 1, size=(hidden, 1))  # hidden -> output
lr = 0.5
epochs = 8000


def sigmoid(x):
    """The logistic function 1 / (1 + e^-x), element-wise."""
    raise NotImplementedError  # TODO


def dsigmoid(y):
    """The derivative of the sigmoid, given its output y = sigmoid(x)."""
    raise NotImplementedError  # TODO


def forward(X, V, W):
    """The hidden layer's and the output's activations: (H, O)."""
    H = sigmoid(X @ V)
    O = sigmoid(H @ W)
    return H, O


def update(X, Y, V, W, lr):
    """One step of gradient descent on the squared error 1/2 * sum((Y - O)^2): the new
    (V, W)."""
    # TODO: forward, the output's and the hidden layer's deltas, then the new V and W
    raise NotImplementedError


print("########### 1. Before training ###########")
_, O = forward(X, V, W)
print("outputs:", np.round(O.ravel(), 3))

print("########### 2. Training ###########")
for epoch in range(1, epochs + 1):
    V, W = update(X, Y, V, W, lr)
    if epoch % 2000 == 0:
        _, O = forward(X, V, W)
        print(f"epoch {epoch}: loss {0.5 * np.sum((Y - O) ** 2):.4f}")

print("########### 3. After training ###########")
_, O = forward(X, V, W)
print("outputs:", np.round(O.ravel(), 3))
print("predicted:", (O.ravel() > 0.5).astype(int))
