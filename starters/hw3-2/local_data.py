"""Data for testing hw3-2 on your own machine: Chinese number words and their digits, as
token ids the way the grader hands them to your code (ids 0-2 are PAD, BOS, EOS; the task's
tokens get the ids 3, 4, ... in a shuffled order). Needs only numpy and torch.

    import local_data, seq2seq
    data, test = local_data.make(8000, 500, seed=0)
    model = seq2seq.build_model(len(data["src_vocab"]), len(data["tgt_vocab"]), 12)

You do not submit this file.
"""

from __future__ import annotations

import numpy as np
import torch

PAD, BOS, EOS = 0, 1, 2
CHARACTERS = list("零一二三四五六七八九十百千万")
DIGITS = list("0123456789")


def _four(n: int) -> str:
    """1 <= n <= 9999 in words: a run of zeros between digits is one 零, trailing ones none."""
    words, gap = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = n // value % 10
        if digit == 0:
            gap = gap or bool(words)
            continue
        if gap:
            words, gap = words + "零", False
        words += CHARACTERS[digit] + unit
    return words


def in_words(n: int) -> str:
    """0 <= n <= 99,999,999: 304 -> 三百零四, 10400 -> 一万零四百, 110000 -> 十一万."""
    if n == 0:
        return "零"
    wan, rest = divmod(n, 10_000)
    words = _four(wan) + "万" if wan else ""
    if rest:
        words += ("零" if wan and rest < 1000 else "") + _four(rest)
    return words[1:] if words.startswith("一十") else words  # 十五, not 一十五, at the start


def _ids(tokens: list[str], rng: np.random.Generator) -> dict[str, int]:
    order = rng.permutation(len(tokens))
    return {tokens[i]: 3 + rank for rank, i in enumerate(order)}


def _pad(rows: list[list[int]]) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.int64)


def make(n_train: int, n_test: int, seed: int = 0, largest: int = 99_999):
    """``(data, test)``: ``data`` as ``train(model, data, config, log)`` gets it; ``test``
    holds ``src`` (ids), ``numbers`` (the answers) and ``decode(ids)`` (ids -> text)."""
    rng = np.random.default_rng(seed)
    numbers = rng.choice(largest + 1, size=n_train + n_test, replace=False)
    src_ids, tgt_ids = _ids(CHARACTERS, rng), _ids(DIGITS, rng)
    src = [[src_ids[c] for c in in_words(int(n))] for n in numbers]
    tgt = [[tgt_ids[d] for d in str(int(n))] + [EOS] for n in numbers]
    placeholders = ["<pad>", "<bos>", "<eos>"]
    data = {
        "src": _pad(src[:n_train]),
        "tgt": _pad(tgt[:n_train]),
        "src_vocab": placeholders + [f"<{i}>" for i in range(3, 3 + len(CHARACTERS))],
        "tgt_vocab": placeholders + [f"<{i}>" for i in range(3, 3 + len(DIGITS))],
        "pad": PAD,
        "bos": BOS,
        "eos": EOS,
    }
    digit_of = {i: d for d, i in tgt_ids.items()}

    def decode(ids) -> str:  # type: ignore[no-untyped-def]
        out = []
        for i in list(ids):
            if int(i) == EOS:
                break
            out.append(digit_of.get(int(i), "?"))
        return "".join(out)

    test = {"src": _pad(src[n_train:]), "numbers": numbers[n_train:].tolist(), "decode": decode}
    return data, test
