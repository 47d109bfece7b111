"""Start a box ahead of its job: import the runtime, warm its first-use paths, then wait.

Runs INSIDE a box (worker/sandbox/pool.py) with the box's full isolation already in
place: the same user, namespaces, mounts, limits and cleared environment as a box started
for a job. Nothing of any job is in the box yet: /job/src and /job/in are empty, and no
student code exists here until the job arrives.

    python -B warm_start.py RUNTIME        RUNTIME: none | numpy | torch | torch-train

1. imports what the runtime needs (numpy-only homework never imports torch) and, for
   torch, runs the code paths a job's first steps use (module calls, a loss, backward,
   an optimizer step), with the box's thread count;
2. writes READY_MARKER to stdout and blocks opening /job/ctl/go (a FIFO the worker opens
   when the job's files are in place): no CPU while waiting;
3. reads from it b"1" and the job as JSON -- the argv a cold box would have run, and that
   job's extra environment (the worker then unlinks the FIFO) -- and runs it in this
   process: ``python -B SCRIPT ARGS`` or ``python -c CODE ARGS``. From here on the box is
   exactly a job's box.

A box is used for one job and then destroyed; if the worker writes anything else (or
closes the FIFO without writing), the box ends without running anything.
"""

from __future__ import annotations

import json
import os
import sys

READY_MARKER = b"\x1e[autograder box warm]\n"
CTL = "/job/ctl"


def warm(runtime: str) -> None:
    if runtime in ("numpy", "torch", "torch-train"):
        import numpy as np

        np.save  # noqa: B018 - resolve the lazy submodules a runner uses at once
        np.linalg.norm(np.ones(4))
        np.random.default_rng(0).standard_normal(4)
    if runtime in ("torch", "torch-train"):
        warm_torch(train=runtime == "torch-train")


def warm_torch(train: bool = True) -> None:
    """Pay torch's first-use costs now: the import, the module machinery, autograd, a loss,
    convolution, recurrent and attention layers as small as possible, and for a training
    box an optimizer's first steps (Adam's first step imports torch._dynamo: 0.8 s here);
    in a box given a GPU, CUDA's initialisation and the same steps on the device."""
    import torch

    threads = int(os.environ.get("TORCH_NUM_THREADS", "1") or 1)
    torch.set_num_threads(threads)
    warm_steps(torch, "cpu", train)
    if os.environ.get("CUDA_VISIBLE_DEVICES") and torch.cuda.is_available():
        warm_steps(torch, "cuda", train)
        torch.cuda.synchronize()
    import safetensors.numpy  # noqa: F401 - how weights come and go


def warm_steps(torch, device: str, train: bool = True) -> None:  # type: ignore[no-untyped-def]
    from torch import nn

    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(2 * 4 * 4, 4),
    ).to(device)
    x = torch.zeros(2, 1, 8, 8, device=device)
    target = torch.zeros(2, dtype=torch.long, device=device)
    loss = nn.functional.cross_entropy(model(x), target)
    loss.backward()
    if train:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        opt.step()
        torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9).step()
        opt.zero_grad()
    nn.LSTM(3, 4, batch_first=True).to(device)(torch.zeros(1, 2, 3, device=device))
    nn.GRU(3, 4).to(device)(torch.zeros(2, 1, 3, device=device))
    attention = nn.MultiheadAttention(4, 1, batch_first=True).to(device)
    attention(*(torch.zeros(1, 2, 4, device=device),) * 3)
    nn.functional.mse_loss(torch.zeros(2, device=device), torch.ones(2, device=device))
    with torch.no_grad():
        model.eval()(x).argmax(1).cpu()


def main() -> None:
    runtime = sys.argv[1] if len(sys.argv) > 1 else "none"
    warm(runtime)
    sys.stdout.flush()
    os.write(1, READY_MARKER)
    fd = os.open(f"{CTL}/go", os.O_RDONLY)  # blocks until the worker opens it to write
    chunks = []
    try:
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    message = b"".join(chunks)
    if not message.startswith(b"1"):
        os._exit(0)
    job = json.loads(message[1:])
    os.environ.update(job["env"])
    code = 0
    try:
        run(job["argv"])
    except SystemExit as exc:
        code = exit_code(exc.code)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    # End without the interpreter's teardown: with torch loaded it takes about 0.75 s
    # (measured here), longer than many jobs. Every artifact is already written and
    # closed by the runner; what is still buffered for stdout and stderr is flushed.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a student may have closed or replaced them
            pass
    os._exit(code)


def exit_code(code: object) -> int:
    """What ``sys.exit(code)`` makes the process's exit status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def run(argv: list[str]) -> None:
    """Run ``argv`` (the sandbox Python's command line) as its own ``__main__``."""
    import runpy

    args = argv[1:]
    while args and args[0] == "-B":
        args = args[1:]
    if args[:1] == ["-c"]:
        code = args[1]
        sys.argv = ["-c", *args[2:]]
        sys.path[0] = ""
        namespace = {"__name__": "__main__", "__builtins__": __builtins__}
        exec(compile(code, "<string>", "exec"), namespace)  # noqa: S102 - the job's command
        return
    script = args[0]
    sys.argv = [script, *args[1:]]
    sys.path[0] = os.path.dirname(script)
    runpy.run_path(script, run_name="__main__")


if __name__ == "__main__":
    main()
