# HW2-3 (script): backpropagation by hand, in the course's own form: a two-layer sigmoid
# network learns XOR with weight updates written out in numpy, printing its predictions
# before and after training.  Reference solution.
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
    return 1 / (1 + np.exp(-x))


def dsigmoid(y):
    """The derivative of the sigmoid, given its output y = sigmoid(x)."""
    return y * (1 - y)


def forward(X, V, W):
    """The hidden layer's and the output's activations: (H, O)."""
    H = sigmoid(X @ V)
    O = sigmoid(H @ W)
    return H, O


def update(X, Y, V, W, lr):
    """One step of gradient descent on the squared error 1/2 * sum((Y - O)^2): the new
    (V, W)."""
    H, O = forward(X, V, W)
    delta_o = (Y - O) * dsigmoid(O)
    delta_h = (delta_o @ W.T) * dsigmoid(H)
    W_new = W + lr * H.T @ delta_o
    V_new = V + lr * X.T @ delta_h
    return V_new, W_new


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
