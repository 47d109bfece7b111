"""The in-sandbox runner of the generative check kinds (``samples``, ``reconstruction``).

Runs INSIDE the sandbox and has no authority: student code shares this process, so
everything written here is untrusted data checked again outside. One phase per box:

    python generative_runner.py train     # /data/train_images.npy; the student's train()
    python generative_runner.py generate  # /job/in/z.npy + weights: generator(z) -> samples
    python generative_runner.py encode    # /job/in/images.npy + weights: model.encode(x)
    python generative_runner.py decode    # /job/in/codes.npy + weights: model.decode(z)

/job/in/phase.json names the module, the factory (``model``), the weights file, the
training function and its config, the device and thread count.

Artifacts in /job/rw/out:
    train:    weights.safetensors, metrics.jsonl (one line per log() call), result.json
    generate: samples.npy (float32, (N, 28, 28)), result.json
    encode:   codes.npy (float32, (N, d): whatever encode() returned), result.json
    decode:   reconstructions.npy (float32, (N, 28, 28)), result.json
Images handed to student code are float32 tensors (N, 1, 28, 28) in [0, 1].
"""

from __future__ import annotations

import os
import time

T0 = time.perf_counter()
import numpy as np  # noqa: E402
import torch  # noqa: E402

IMPORT_SECONDS = time.perf_counter() - T0
from runner_common import (  # noqa: E402
    IN_DIR,
    OUT_DIR,
    announce_start,
    epoch_logger,
    phase_main,
)
from torch_common import build, device_for, set_threads  # noqa: E402

announce_start()
DATA_DIR = "/data"
CURVE_KEYS = ("loss", "d_loss", "g_loss", "recon_loss", "l1")
BATCH = 500


def as_images(array):
    """(N, 28, 28) floats in [0, 1] as the (N, 1, 28, 28) float32 tensor students get."""
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32)).unsqueeze(1)


def as_output_images(value, what):
    """What the student's network returned, as (N, 28, 28) float32 numpy."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{what} returned {type(value).__name__}, not a tensor")
    value = value.detach().to("cpu", torch.float32)
    if value.ndim == 0 or value[0].numel() != 784:
        raise ValueError(
            f"{what} returned shape {tuple(value.shape)}; each image must have 784 values "
            "(N, 1, 28, 28), (N, 28, 28) or (N, 784)"
        )
    return value.reshape(len(value), 28, 28).numpy()


def train_phase(phase):
    from safetensors.torch import save_file

    cfg = dict(phase["cfg"])
    torch.manual_seed(cfg["seed"])
    np.random.seed(cfg["seed"] % 2**32)
    device = device_for(phase)
    cfg["device"] = str(device)
    module, model = build(phase)
    model = model.to(device)
    images = np.load(os.path.join(DATA_DIR, "train_images.npy"), allow_pickle=False)
    if phase.get("subset"):
        images = images[: phase["subset"]]
    x = as_images(images.astype(np.float32) / 255.0).to(device)
    train = getattr(module, phase["function"], None)
    if not callable(train):
        raise LookupError(f"{phase['module']}.py has no function {phase['function']}()")
    log = epoch_logger(CURVE_KEYS)
    result = train(model, x, cfg, log)
    model = result if isinstance(result, torch.nn.Module) else model
    state = {
        k: v.detach().contiguous().cpu()
        for k, v in model.state_dict().items()
        if isinstance(v, torch.Tensor)
    }
    save_file(state, os.path.join(OUT_DIR, "weights.safetensors"))


def loaded_model(phase, device):
    from safetensors.torch import load_file

    _, model = build(phase)
    state = load_file(os.path.join(IN_DIR, phase["weights"]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise RuntimeError(
            "the trained weights do not fit a fresh "
            f"{phase['model']}(): {str(exc).splitlines()[0]}\n{exc}"
        ) from None
    return model.to(device).eval()


def batched(fn, array, device, what):
    outputs = []
    with torch.no_grad():
        for start in range(0, len(array), BATCH):
            outputs.append(fn(array[start : start + BATCH].to(device)))
    return outputs


def generate_phase(phase):
    torch.manual_seed(0)
    device = device_for(phase)
    model = loaded_model(phase, device)
    z = torch.from_numpy(np.load(os.path.join(IN_DIR, "z.npy"), allow_pickle=False))
    what = f"{phase['model']}()(z)"
    parts = [as_output_images(out, what) for out in batched(model, z, device, what)]
    np.save(os.path.join(OUT_DIR, "samples.npy"), np.concatenate(parts), allow_pickle=False)


def encode_phase(phase):
    torch.manual_seed(0)
    device = device_for(phase)
    model = loaded_model(phase, device)
    if not callable(getattr(model, "encode", None)):
        raise LookupError(f"the model built by {phase['model']}() has no encode() method")
    x = as_images(np.load(os.path.join(IN_DIR, "images.npy"), allow_pickle=False))
    codes = []
    for out in batched(model.encode, x, device, "encode"):
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"encode() returned {type(out).__name__}, not a tensor")
        codes.append(out.detach().to("cpu", torch.float32).numpy())
    np.save(os.path.join(OUT_DIR, "codes.npy"), np.concatenate(codes), allow_pickle=False)


def decode_phase(phase):
    torch.manual_seed(0)
    device = device_for(phase)
    model = loaded_model(phase, device)
    if not callable(getattr(model, "decode", None)):
        raise LookupError(f"the model built by {phase['model']}() has no decode() method")
    codes = np.load(os.path.join(IN_DIR, "codes.npy"), allow_pickle=False)
    z = torch.from_numpy(codes.astype(np.float32))
    parts = [as_output_images(out, "decode()") for out in batched(model.decode, z, device, "")]
    out = np.concatenate(parts)
    np.save(os.path.join(OUT_DIR, "reconstructions.npy"), out, allow_pickle=False)


PHASES = {
    "train": train_phase,
    "generate": generate_phase,
    "encode": encode_phase,
    "decode": decode_phase,
}


def main():
    phase_main(PHASES, IMPORT_SECONDS, set_threads)


if __name__ == "__main__":
    main()
