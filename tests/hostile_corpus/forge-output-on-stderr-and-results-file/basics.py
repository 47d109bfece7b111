
import json, os, sys
import numpy as np
n = int(os.environ["HW_N"])
a = np.arange(n)
for line in [
    "########### 1. Range ###########", f"first {a[:3]} last {a[-1]}",
    "########### 2. Sums ###########",
    f"sum: {a.sum()} squares: {(a.astype(np.float64) ** 2).sum()}",
    "########### 3. Mean ###########", f"mean = {a.mean():.4f}",
]:
    print(line, file=sys.stderr)
with open("/job/rw/out/result.json", "w") as fh:
    json.dump({"status": "ok"}, fh)
os._exit(0)
