"""HW1-1 (script form): numpy basics, printed section by section.

Fill in every line marked TODO (replace the None) and run the script:
    HW_SEED=5 python numpy_script.py
Keep the headings, the print lines and the lines that make the data (rng) as they are: the
grader runs your script on its own HW_SEED and compares what it prints, section by section,
with what the reference prints for the same seed.
"""

import os

import numpy as np

seed = int(os.environ.get("HW_SEED", "0"))
rng = np.random.default_rng(seed)
np.set_printoptions(precision=4, suppress=True)

########### 1. Creating arrays ###########
print("########### 1. Creating arrays ###########")
n = 3 + seed % 4
a = None  # TODO: the integers 0 .. n*4-1 as an (n, 4) array, row by row
print("a =")
print(a)
print("shape:", a.shape, "dtype kind:", a.dtype.kind)
eye = None  # TODO: the (n, n) identity matrix
print("trace of the identity:", None)  # TODO: the trace of eye

########### 2. Indexing and slicing ###########
print("########### 2. Indexing and slicing ###########")
print("last row:", None)  # TODO: the last row of a
print("second column:", None)  # TODO: the second column of a
print("even entries:", None)  # TODO: the even entries of a (a boolean mask)

########### 3. Broadcasting ###########
print("########### 3. Broadcasting ###########")
x = rng.normal(size=(n, 4))
centred = None  # TODO: x minus the mean of each column (broadcasting)
print("column means after centring:", np.round(centred.mean(axis=0), 6) + 0.0)
scaled = None  # TODO: each row of x divided by its Euclidean norm
print("row norms after scaling:", np.linalg.norm(scaled, axis=1))

########### 4. Matrix products and reductions ###########
print("########### 4. Matrix products and reductions ###########")
w = rng.normal(size=(4, 2))
y = None  # TODO: the matrix product of x and w
print("x @ w =")
print(y)
print("sum:", None, "row maxima:", None)  # TODO: the sum of y; the maximum of each row
print("argmax per row:", None)  # TODO: the index of each row's maximum

########### 5. Softmax ###########
print("########### 5. Softmax ###########")
logits = y * 10
p = None  # TODO: the softmax of each row of logits, numerically stable (subtract the row max)
print("softmax =")
print(p)
print("rows sum to:", p.sum(axis=1))
