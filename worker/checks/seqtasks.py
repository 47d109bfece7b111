"""Generated sequence tasks for the ``sequence`` check kind (numpy only, no torch).

Every task is a pure function of a numpy Generator: the grader draws a fresh task per job
from the job's secret seed, so a submission cannot hard-code its answers.  A task has a
source and a target vocabulary; both start with the same special tokens

    0 <pad>   1 <bos>   2 <eos>

followed by the task's own tokens.  Sources and targets are stored as padded int64
arrays (PAD = 0 after the end); how targets are laid out depends on the model interface:

- ``seq2seq``: target tokens followed by one EOS, then PAD (no BOS: the decoder's input
  ``[BOS] + target[:-1]`` is built by whoever trains it);
- ``encoder`` (one output token per source position): target tokens only, as wide as the
  sources, PAD where the source is PAD (only tasks whose target is as long as their source).

Every source of the test split is distinct and absent from the training split.

The ids a box sees carry no meaning (DESIGN rule 11): ``permute_tokens`` shuffles the task
tokens' ids per job (PAD, BOS, EOS keep 0, 1, 2), independently on the two sides, and
``TaskData.box_vocab`` names them only ``<3>``, ``<4>``, ...  The strings stay here, outside,
for the feedback.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

import numpy as np

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<bos>", "<eos>"]
DIGITS = [str(d) for d in range(10)]

# ----------------------------------------------------------------------------- numerals

ZH_DIGITS = "零一二三四五六七八九"
ZH_TOKENS = list(ZH_DIGITS) + ["十", "百", "千", "万"]
MAX_VALUE = 99_999_999  # below 亿 (10^8)


def _zh_group(n: int, leading: bool) -> str:
    """1 <= n <= 9999 in Chinese; inner runs of zeros read as one 零, trailing zeros silent."""
    out, zero, started = [], False, False
    for d, unit in zip((n // 1000, n // 100 % 10, n // 10 % 10, n % 10), "千百十 ", strict=True):
        if d == 0:
            zero = zero or started
            continue
        if zero:
            out.append("零")
            zero = False
        out.append(ZH_DIGITS[d] + unit.strip())
        started = True
    text = "".join(out)
    # 10-19 at the very start of a number read 十, 十一 ...; inside it 一十 (一百一十五).
    return text[1:] if leading and text.startswith("一十") else text


def zh_numeral(n: int) -> str:
    """0 <= n <= 99,999,999 in Chinese number words: 304 -> 三百零四, 10400 -> 一万零四百,
    110000 -> 十一万.  Always 二, never the colloquial 两."""
    if not 0 <= n <= MAX_VALUE:
        raise ValueError(f"{n} is out of range")  # not a message: a bug of the caller
    if n == 0:
        return "零"
    high, low = divmod(n, 10_000)
    text = _zh_group(high, True) + "万" if high else ""
    if low:
        if high and low < 1000:
            text += "零"
        text += _zh_group(low, not high)
    return text


EN_ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen \
fourteen fifteen sixteen seventeen eighteen nineteen".split()
EN_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
EN_TOKENS = EN_ONES + EN_TENS + ["hundred", "thousand", "million"]


def _en_below_1000(n: int) -> list[str]:
    words = []
    if n >= 100:
        words += [EN_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        words.append(EN_TENS[n // 10 - 2])
        n %= 10
        if n:
            words.append(EN_ONES[n])
    elif n:
        words.append(EN_ONES[n])
    return words


def en_numeral(n: int) -> list[str]:
    """0 <= n <= 99,999,999 as English words (American style, no "and", hyphens split):
    304 -> three hundred four; 21 -> twenty one."""
    if not 0 <= n <= MAX_VALUE:
        raise ValueError(f"{n} is out of range")  # not a message: a bug of the caller
    if n == 0:
        return ["zero"]
    words: list[str] = []
    for scale, name in ((1_000_000, "million"), (1000, "thousand")):
        if n >= scale:
            words += _en_below_1000(n // scale) + [name]
            n %= scale
    return words + _en_below_1000(n)


# ----------------------------------------------------------------------------- tasks


@dataclass(frozen=True)
class TaskInfo:
    src_tokens: list[str]  # without the specials
    tgt_tokens: list[str]
    joiner_src: str  # how tokens are joined to show a sequence as text
    joiner_tgt: str
    same_length: bool  # target as long as its source (an encoder-only model fits)


TASKS: dict[str, TaskInfo] = {
    "zh_numerals": TaskInfo(ZH_TOKENS, DIGITS, "", "", False),
    "en_numerals": TaskInfo(EN_TOKENS, DIGITS, " ", "", False),
    "reverse": TaskInfo(DIGITS, DIGITS, "", "", True),
    "sort": TaskInfo(DIGITS, DIGITS, "", "", True),
}


def space_size(task: str, min_value: int, max_value: int, min_length: int, max_length: int) -> int:
    """How many distinct sources a task's settings allow."""
    if task.endswith("_numerals"):
        return max(0, max_value - min_value + 1)
    return sum(10**n for n in range(min_length, max_length + 1))


@dataclass
class TaskData:
    """One generated task: token ids, the vocabularies, and how to show them as text."""

    name: str
    src_vocab: list[str]
    tgt_vocab: list[str]
    train_src: np.ndarray  # (n_train, S) int64
    train_tgt: np.ndarray  # (n_train, T) int64
    test_src: np.ndarray  # (n_test, S) int64: the only test data a box sees
    test_tgt: np.ndarray  # (n_test, T) int64: hidden, stays with the grader
    info: TaskInfo

    def box_vocab(self) -> dict[str, Any]:
        """What a box is told of the vocabularies: their sizes, the special ids, and
        placeholders instead of the tokens (a box never sees what a token means)."""
        return {
            "src": placeholders(len(self.src_vocab)),
            "tgt": placeholders(len(self.tgt_vocab)),
            "pad": PAD,
            "bos": BOS,
            "eos": EOS,
        }

    def text(self, ids: np.ndarray, side: str) -> str:
        """Token ids as readable text, up to the first PAD/EOS (unknown ids shown as <id>)."""
        vocab = self.src_vocab if side == "src" else self.tgt_vocab
        joiner = self.info.joiner_src if side == "src" else self.info.joiner_tgt
        words = []
        for i in ids.tolist():
            if i in (PAD, EOS):
                break
            words.append(vocab[i] if 0 <= i < len(vocab) else f"<{i}>")
        return joiner.join(words)


# A source before it is tokenized: a number (the numeral tasks) or a tuple of digits.
Source = int | tuple[int, ...]


@dataclass(frozen=True)
class _Class:
    """The sources of one length (digits of a number, or length of a digit string)."""

    numeral: bool
    low: int  # numerals: the smallest value; strings: unused
    high: int  # numerals: the largest value
    length: int

    @property
    def size(self) -> int:
        return self.high - self.low + 1 if self.numeral else 10**self.length

    def draw(self, rng: np.random.Generator, count: int) -> list[Source]:
        if self.numeral:
            values: list[Source] = rng.integers(self.low, self.high + 1, size=count).tolist()
            return values
        return [tuple(row) for row in rng.integers(0, 10, size=(count, self.length)).tolist()]

    def members(self) -> list[Source]:
        if self.numeral:
            return list(range(self.low, self.high + 1))
        return list(itertools.product(range(10), repeat=self.length))


def _classes(
    task: str, min_value: int, max_value: int, min_length: int, max_length: int
) -> list[_Class]:
    if task.endswith("_numerals"):
        out = []
        for d in range(len(str(min_value)), len(str(max_value)) + 1):
            low = max(min_value, 0 if d == 1 else 10 ** (d - 1))
            out.append(_Class(True, low, min(max_value, 10**d - 1), d))
        return out
    return [_Class(False, 0, 0, n) for n in range(min_length, max_length + 1)]


def _draw(
    rng: np.random.Generator, classes: list[_Class], count: int, taken: set[Source]
) -> list[Source]:
    """``count`` distinct sources not in ``taken``: a class uniformly, then a member."""
    found: dict[Source, None] = {}
    while len(found) < count:
        picks = np.bincount(rng.integers(0, len(classes), size=2 * count), minlength=len(classes))
        drawn = [x for c, k in zip(classes, picks.tolist(), strict=True) for x in c.draw(rng, k)]
        for i in rng.permutation(len(drawn)).tolist():
            if drawn[i] not in taken:
                found.setdefault(drawn[i], None)
                if len(found) == count:
                    break
    return list(found)


def _split(
    rng: np.random.Generator, classes: list[_Class], n_train: int, n_test: int
) -> tuple[list[Source], list[Source]]:
    """Distinct test and training sources, disjoint.  A length class too small to share
    between the splits (fewer members than an even share of all the draws: the one-
    and two-digit numbers, say) goes wholly to training, so the test never asks for a
    short source the training split could not have shown in its other forms."""
    share = (n_train + n_test) / len(classes)
    large = [c for c in classes if c.size >= share]
    if sum(c.size for c in large) < 2 * n_test:
        large = classes  # too few long sources: every length may be tested
    small = [c for c in classes if c not in large]
    test = _draw(rng, large, n_test, set())
    train = [x for c in small for x in c.members()]
    train = [train[i] for i in rng.permutation(len(train))[:n_train].tolist()]
    train += _draw(rng, large, n_train - len(train), set(test) | set(train))
    return train, test


def _pad(rows: list[list[int]], width: int) -> np.ndarray:
    out = np.full((len(rows), width), PAD, dtype=np.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row
    return out


def generate(
    rng: np.random.Generator,
    task: str,
    *,
    n_train: int,
    n_test: int,
    interface: str = "seq2seq",
    min_value: int = 0,
    max_value: int = 99_999,
    min_length: int = 1,
    max_length: int = 8,
) -> TaskData:
    """A fresh task: distinct sources; the test split first, then the training split."""
    info = TASKS[task]
    if interface == "encoder" and not info.same_length:
        raise ValueError(
            f"task {task} has targets of another length "  # not a message: a spec error
            "than their sources"
        )
    count = n_train + n_test
    if count > space_size(task, min_value, max_value, min_length, max_length):
        raise ValueError(
            f"task {task} has fewer than {count} distinct sources"  # not a message: spec error
        )
    src_vocab, tgt_vocab = SPECIALS + info.src_tokens, SPECIALS + info.tgt_tokens
    s_index = {t: i for i, t in enumerate(src_vocab)}
    t_index = {t: i for i, t in enumerate(tgt_vocab)}
    classes = _classes(task, min_value, max_value, min_length, max_length)
    train, test = _split(rng, classes, n_train, n_test)
    pairs: list[tuple[list[int], list[int]]] = []
    if task.endswith("_numerals"):
        words: Callable[[int], list[str]] = (
            (lambda n: list(zh_numeral(n))) if task == "zh_numerals" else en_numeral
        )
        for n in test + train:  # numbers (the numeral tasks' classes)
            src_ids = [s_index[w] for w in words(cast(int, n))]
            pairs.append((src_ids, [t_index[c] for c in str(n)]))
    else:
        for digits in test + train:  # tuples of digits (the digit-string tasks' classes)
            src_ids = [s_index[str(d)] for d in cast(tuple[int, ...], digits)]
            tgt_ids = src_ids[::-1] if task == "reverse" else sorted(src_ids)
            pairs.append((src_ids, tgt_ids))
    sources = [s for s, _ in pairs]
    targets = [t for _, t in pairs] if interface == "encoder" else [t + [EOS] for _, t in pairs]
    s_width = max(len(s) for s in sources)
    t_width = s_width if interface == "encoder" else max(len(t) for t in targets)
    src, tgt = _pad(sources, s_width), _pad(targets, t_width)
    return TaskData(
        name=task,
        src_vocab=src_vocab,
        tgt_vocab=tgt_vocab,
        train_src=src[n_test:],
        train_tgt=tgt[n_test:],
        test_src=src[:n_test],
        test_tgt=tgt[:n_test],
        info=info,
    )


# ----------------------------------------------------------------------------- opaque ids


def placeholders(size: int) -> list[str]:
    """A vocabulary of ``size`` as a box sees it: the specials, then ``<id>`` per token."""
    return SPECIALS + [f"<{i}>" for i in range(len(SPECIALS), size)]


def permute_tokens(task: TaskData, rng: np.random.Generator) -> TaskData:
    """The task with its tokens' ids shuffled (the specials keep theirs), the source and
    the target side independently.  When both sides have the same tokens (reverse, sort),
    no token keeps its source id on the target side, so copying ids, or ordering them,
    gives no right token: what an id means can only be learned from the training pairs."""
    specials = len(SPECIALS)
    src_order = rng.permutation(len(task.src_vocab) - specials)
    tgt_order = rng.permutation(len(task.tgt_vocab) - specials)
    while task.info.src_tokens == task.info.tgt_tokens and (src_order == tgt_order).any():
        tgt_order = rng.permutation(len(task.tgt_vocab) - specials)
    src_map = np.concatenate([np.arange(specials), specials + src_order])
    tgt_map = np.concatenate([np.arange(specials), specials + tgt_order])
    return replace(
        task,
        src_vocab=_reordered(task.src_vocab, src_map),
        tgt_vocab=_reordered(task.tgt_vocab, tgt_map),
        train_src=src_map[task.train_src],
        train_tgt=tgt_map[task.train_tgt],
        test_src=src_map[task.test_src],
        test_tgt=tgt_map[task.test_tgt],
    )


def _reordered(vocab: list[str], new_ids: np.ndarray) -> list[str]:
    """``vocab`` with token i moved to id ``new_ids[i]``."""
    out = [""] * len(vocab)
    for token, new in zip(vocab, new_ids.tolist(), strict=True):
        out[new] = token
    return out
