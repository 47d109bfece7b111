"""HW1-1 (script form): numpy basics, printed section by section.

Reference solution. The course hands this homework out as one script to fill in: each
section computes with numpy and prints its results under a heading. HW_SEED (set by the
grader for every submission; any integer when you run it yourself) makes the data.
"""

import os

import numpy as np

seed = int(os.environ.get("HW_SEED", "0"))
rng = np.random.default_rng(seed)
np.set_printoptions(precision=4, suppress=True)

########### 1. Creating arrays ###########
print("########### 1. Creating arrays ###########")
n = 3 + seed % 4
a = np.arange(n * 4).reshape(n, 4)
print("a =")
print(a)
print("shape:", a.shape, "dtype kind:", a.dtype.kind)
eye = np.eye(n)
print("trace of the identity:", np.trace(eye))

########### 2. Indexing and slicing ###########
print("########### 2. Indexing and slicing ###########")
print("last row:", a[-1])
print("second column:", a[:, 1])
print("even entries:", a[a % 2 == 0])

########### 3. Broadcasting ###########
print("########### 3. Broadcasting ###########")
x = rng.normal(size=(n, 4))
centred = x - x.mean(axis=0)
print("column means after centring:", np.round(centred.mean(axis=0), 6) + 0.0)
scaled = x / np.linalg.norm(x, axis=1, keepdims=True)
print("row norms after scaling:", np.linalg.norm(scaled, axis=1))

########### 4. Matrix products and reductions ###########
print("########### 4. Matrix products and reductions ###########")
w = rng.normal(size=(4, 2))
y = x @ w
print("x @ w =")
print(y)
print("sum:", y.sum(), "row maxima:", y.max(axis=1))
print("argmax per row:", y.argmax(axis=1))

########### 5. Softmax ###########
print("########### 5. Softmax ###########")
logits = y * 10
shifted = logits - logits.max(axis=1, keepdims=True)
p = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
print("softmax =")
print(p)
print("rows sum to:", p.sum(axis=1))
