"""The in-sandbox runner of the ``sequence`` check kind's train and predict phases.

Runs INSIDE the sandbox and has no authority: student code shares this process, so
everything written here is untrusted data checked again outside.

    python sequence_runner.py train    # /job/in: phase.json, vocab.json, train_{src,tgt}.npy
    python sequence_runner.py init     # /job/in: phase.json, vocab.json
    python sequence_runner.py predict  # /job/in: phase.json, vocab.json, test_src.npy,
                                       #         weights.safetensors

Token ids: 0 <pad>, 1 <bos>, 2 <eos> in both vocabularies; the task's tokens follow, their
ids shuffled per job (vocab.json holds placeholders, "<3>", "<4>", ...: only the sizes).
Sources are padded with PAD; seq2seq targets end in one EOS (no BOS), encoder targets are
as wide as the sources.

The grader runs predict twice, with the trained weights and with the untrained ones the
init box wrote (the control), with the same inputs otherwise; this runner is not told which.

Artifacts in /job/rw/out:
    train:   weights.safetensors, metrics.jsonl (one line per epoch), result.json
    init:    weights.safetensors (the model as train builds it, before training), result.json
    predict: predictions.npy (int64 (N, width), PAD after the end), result.json
"""

from __future__ import annotations

import json
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
    append_metrics,
    epoch_logger,
    phase_main,
)
from torch_common import build as build_model  # noqa: E402
from torch_common import device_for, set_threads  # noqa: E402

announce_start()
PAD, BOS, EOS = 0, 1, 2
PREDICT_CHUNK = 500


def load_ids(name):
    return torch.from_numpy(
        np.load(os.path.join(IN_DIR, name), allow_pickle=False).astype(np.int64)
    )


def build(phase, vocab):
    return build_model(phase, len(vocab["src"]), len(vocab["tgt"]), phase["max_len"])


def state_of(model):
    # clone(): tied weights (one tensor under two names) must become two tensors to be saved
    return {
        k: v.detach().clone().contiguous().cpu()
        for k, v in model.state_dict().items()
        if isinstance(v, torch.Tensor)
    }


# ------------------------------------------------------------------------------ training


def _trim(rows):
    """A batch without the columns that are PAD in every row."""
    used = (rows != PAD).any(dim=0).nonzero()
    return rows[:, : int(used.max()) + 1] if len(used) else rows[:, :1]


def _logits(model, interface, src, tgt):
    """The model's logits for a batch and the targets they are scored against."""
    if interface == "encoder":
        width = max(_trim(src).shape[1], _trim(tgt).shape[1])
        src, tgt = src[:, :width], tgt[:, :width]
        logits = model(src)
        want = (src.shape[0], src.shape[1])
        where = "model(src)"
    else:
        src, tgt = _trim(src), _trim(tgt)
        bos = torch.full((tgt.shape[0], 1), BOS, dtype=tgt.dtype, device=tgt.device)
        logits = model(src, torch.cat([bos, tgt[:, :-1]], dim=1))  # teacher forcing
        want = (tgt.shape[0], tgt.shape[1])
        where = "model(src, tgt_in)"
    if not isinstance(logits, torch.Tensor) or logits.dim() != 3 or logits.shape[:2] != want:
        got = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise ValueError(f"{where} returned {got}, expected logits of shape {want + ('V',)}")
    return logits, tgt


def grader_loop(model, src, tgt, cfg, interface):
    gen = torch.Generator().manual_seed(cfg["seed"])
    params = list(model.parameters())
    if cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=cfg["lr"])
    else:
        opt = torch.optim.Adam(params, lr=cfg["lr"])
    loss_fn = torch.nn.CrossEntropyLoss(ignore_index=PAD)
    n = src.shape[0]
    for epoch in range(cfg["epochs"]):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=gen).to(src.device)
        total_loss, correct, tokens = 0.0, 0, 0
        for start in range(0, n, cfg["batch_size"]):
            idx = order[start : start + cfg["batch_size"]]
            logits, want = _logits(model, interface, src[idx], tgt[idx])
            loss = loss_fn(logits.reshape(-1, logits.shape[-1]), want.reshape(-1))
            opt.zero_grad()
            loss.backward()
            if cfg.get("clip_grad_norm"):
                torch.nn.utils.clip_grad_norm_(params, cfg["clip_grad_norm"])
            opt.step()
            mask = want != PAD
            total_loss += loss.item() * int(mask.sum())
            correct += int(((logits.argmax(-1) == want) & mask).sum())
            tokens += int(mask.sum())
        append_metrics(
            {
                "epoch": epoch + 1,
                "loss": total_loss / max(tokens, 1),
                "train_accuracy": correct / max(tokens, 1),
                "seconds": time.perf_counter() - started,
            }
        )


def student_loop(module, model, data, cfg, function):
    train = getattr(module, function, None)
    if not callable(train):
        raise LookupError(f"{module.__name__}.py has no function {function}()")
    log = epoch_logger()
    result = train(model, data, dict(cfg), log)
    return result if isinstance(result, torch.nn.Module) else model


def seeded_build(phase, vocab):
    """The student's module and a fresh model, seeded as in every box that builds one to
    train it (the init box's untrained model is the train box's before its first step)."""
    torch.manual_seed(phase["seed"])
    np.random.seed(phase["seed"] % 2**32)
    return build(phase, vocab)


def init_phase(phase, vocab):
    from safetensors.torch import save_file

    _, model = seeded_build(phase, vocab)
    save_file(state_of(model), os.path.join(OUT_DIR, "weights.safetensors"))


def train_phase(phase, vocab):
    from safetensors.torch import save_file

    device = device_for(phase)
    module, model = seeded_build(phase, vocab)
    model = model.to(device)
    src = load_ids("train_src.npy").to(device)
    tgt = load_ids("train_tgt.npy").to(device)
    cfg = {
        k: phase[k]
        for k in ("epochs", "batch_size", "lr", "seed", "optimizer", "clip_grad_norm", "max_len")
    }
    cfg.update(device=str(device), wall_seconds=phase["wall_seconds"], pad=PAD, bos=BOS, eos=EOS)
    if phase["loop"] == "student":
        data = {
            "src": src,
            "tgt": tgt,
            "src_vocab": list(vocab["src"]),
            "tgt_vocab": list(vocab["tgt"]),
            "pad": PAD,
            "bos": BOS,
            "eos": EOS,
        }
        model = student_loop(module, model, data, cfg, phase["function"])
    else:
        grader_loop(model, src, tgt, cfg, phase["interface"])
    save_file(state_of(model), os.path.join(OUT_DIR, "weights.safetensors"))


# ------------------------------------------------------------------------------ prediction


def as_ids(value, rows, width, what):
    """What the student's decoding returned, as an int64 (rows, width) array padded with PAD."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, list | tuple) and value and not isinstance(value[0], int | np.integer):
        seqs = [np.asarray(torch.as_tensor(v).cpu() if torch.is_tensor(v) else v) for v in value]
        if any(s.ndim != 1 for s in seqs):
            raise ValueError(f"{what} must return one sequence of token ids per source")
        longest = max((len(s) for s in seqs), default=0)
        padded = np.full((len(seqs), max(longest, 1)), PAD, dtype=np.int64)
        for i, s in enumerate(seqs):
            if len(s) and s.dtype.kind not in "iu":
                raise TypeError(f"{what} must return integer token ids, got {s.dtype}")
            padded[i, : len(s)] = s
        value = padded
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{what} must return integer token ids, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[0] != rows:
        raise ValueError(f"{what} returned shape {arr.shape}, expected ({rows}, L)")
    if arr.shape[1] > width:
        raise ValueError(f"{what} returned {arr.shape[1]} tokens per sequence, at most {width}")
    out = np.full((rows, width), PAD, dtype=np.int64)
    out[:, : arr.shape[1]] = arr
    return out


def predict_all(module, model, phase, src, device):
    width = phase["width"]
    name = phase.get("predict")
    decode = getattr(module, name, None) if name else None
    if name and not callable(decode):
        raise LookupError(f"{phase['module']}.py has no function {name}()")
    model = model.to(device).eval()
    chunks = []
    with torch.no_grad():
        for start in range(0, src.shape[0], PREDICT_CHUNK):
            batch = src[start : start + PREDICT_CHUNK].to(device)
            if decode is not None:
                got = decode(model, batch, phase["max_len"])
                chunks.append(as_ids(got, batch.shape[0], width, f"{name}()"))
            else:
                logits = model(batch)
                if not isinstance(logits, torch.Tensor) or logits.dim() != 3:
                    raise ValueError("model(src) must return logits of shape (B, S, V)")
                chunks.append(as_ids(logits.argmax(-1), batch.shape[0], width, "model(src)"))
    return np.concatenate(chunks)


def predict_phase(phase, vocab):
    from safetensors.torch import load_file

    device = device_for(phase)
    src = load_ids("test_src.npy")
    torch.manual_seed(0)
    module, model = build(phase, vocab)
    state = load_file(os.path.join(IN_DIR, phase["weights"]))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise RuntimeError(
            "the weights do not fit a fresh model built by "
            f"{phase['model']}(): {str(exc).splitlines()[0]}\n{exc}"
        ) from None
    predictions = predict_all(module, model, phase, src, device)
    np.save(os.path.join(OUT_DIR, "predictions.npy"), predictions, allow_pickle=False)


def main():
    with open(os.path.join(IN_DIR, "vocab.json")) as fh:
        vocab = json.load(fh)
    phases = {
        "train": lambda phase: train_phase(phase, vocab),
        "init": lambda phase: init_phase(phase, vocab),
        "predict": lambda phase: predict_phase(phase, vocab),
    }
    phase_main(phases, IMPORT_SECONDS, set_threads)


if __name__ == "__main__":
    main()
