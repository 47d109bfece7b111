"""The phased ``sequence`` check: generated tasks (pure), opaque token ids (pure), scoring
(pure, hostile arrays), and the real path through the sandbox (train, init and predict
boxes, the untrained control in boxes of its own, what each box sees)."""

from __future__ import annotations

import json
import re
import textwrap

import numpy as np
import pytest
import yaml

from autograder.grading.said import Said
from autograder.specs.loader import load_spec_text
from autograder.specs.schema import SequenceCheck
from worker.checks import seqtasks
from worker.checks.seqtasks import (
    BOS,
    EOS,
    PAD,
    en_numeral,
    generate,
    permute_tokens,
    zh_numeral,
)
from worker.checks.sequence_check import check_ids, compare, load_ids, make_task, score, widths

# ------------------------------------------------------------------------------ tasks


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "零"),
        (7, "七"),
        (10, "十"),
        (15, "十五"),
        (110, "一百一十"),
        (115, "一百一十五"),
        (304, "三百零四"),
        (1004, "一千零四"),
        (1040, "一千零四十"),
        (10000, "一万"),
        (10400, "一万零四百"),
        (20304, "二万零三百零四"),
        (100000, "十万"),
        (110000, "十一万"),
        (101000, "十万一千"),
        (1000100, "一百万零一百"),
        (1010000, "一百零一万"),
        (99999999, "九千九百九十九万九千九百九十九"),
    ],
)
def test_chinese_numerals(n, text):
    assert zh_numeral(n) == text


def test_chinese_numerals_are_unambiguous():
    seen = {zh_numeral(n) for n in range(0, 200_000)}
    assert len(seen) == 200_000


def test_english_numerals():
    assert en_numeral(0) == ["zero"]
    assert " ".join(en_numeral(304)) == "three hundred four"
    assert " ".join(en_numeral(21)) == "twenty one"
    assert " ".join(en_numeral(1_010_000)) == "one million ten thousand"
    assert len({" ".join(en_numeral(n)) for n in range(0, 100_000)}) == 100_000
    with pytest.raises(ValueError):
        en_numeral(10**8)


def _source(task, row):
    return task.text(row, "src")


@pytest.mark.parametrize("name", ["zh_numerals", "en_numerals", "reverse", "sort"])
def test_generated_tasks_are_consistent_and_splits_disjoint(name):
    task = generate(np.random.default_rng(3), name, n_train=2000, n_test=300, max_value=9999)
    assert task.train_src.dtype == task.test_tgt.dtype == np.int64
    assert task.src_vocab[:3] == task.tgt_vocab[:3] == ["<pad>", "<bos>", "<eos>"]
    assert (PAD, BOS, EOS) == (0, 1, 2)
    train = {tuple(r) for r in task.train_src}
    test = [tuple(r) for r in task.test_src]
    assert len(train) == 2000 and len(set(test)) == 300 and not train & set(test)
    for src, tgt in zip(task.test_src, task.test_tgt, strict=True):
        s, t = _source(task, src), task.text(tgt, "tgt")
        ends = np.flatnonzero(tgt == EOS)
        assert len(ends) == 1 and (tgt[ends[0] + 1 :] == PAD).all()  # one EOS, then PAD
        assert (src[(src == PAD).argmax() :] == PAD).all() or (src != PAD).all()
        if name == "zh_numerals":
            assert zh_numeral(int(t)) == s
        elif name == "en_numerals":
            assert " ".join(en_numeral(int(t))) == s
        elif name == "reverse":
            assert t == s[::-1]
        else:
            assert t == "".join(sorted(s))
    assert task.box_vocab()["eos"] == EOS


def test_tasks_depend_on_the_seed_only():
    a = generate(np.random.default_rng(5), "zh_numerals", n_train=100, n_test=20)
    b = generate(np.random.default_rng(5), "zh_numerals", n_train=100, n_test=20)
    c = generate(np.random.default_rng(6), "zh_numerals", n_train=100, n_test=20)
    assert (a.test_src == b.test_src).all() and (a.train_tgt == b.train_tgt).all()
    assert a.test_src.shape != c.test_src.shape or (a.test_src != c.test_src).any()


def test_numbers_cover_every_length():
    task = generate(np.random.default_rng(0), "zh_numerals", n_train=3000, n_test=10)
    digits = (task.train_tgt != PAD).sum(axis=1) - 1
    counts = np.bincount(digits)[1:]
    # 1 to 5 digits about evenly: all 100 numbers below 100 (but those drawn for the test)
    assert len(counts) == 5 and counts[0] + counts[1] >= 90 and counts[2:].min() > 600


def test_short_sources_stay_in_training():
    task = generate(np.random.default_rng(0), "zh_numerals", n_train=20000, n_test=1000)
    train = {task.text(r, "tgt") for r in task.train_tgt}
    assert {str(n) for n in range(1000)} <= train  # every number below 1000
    assert all(len(task.text(r, "tgt")) >= 4 for r in task.test_tgt)
    # when the long sources alone are too few, every length may be tested
    task = generate(np.random.default_rng(0), "reverse", n_train=40, n_test=55, max_length=2)
    assert len({len(task.text(r, "src")) for r in task.test_src}) == 2


def test_encoder_layout():
    task = generate(np.random.default_rng(1), "sort", n_train=50, n_test=10, interface="encoder")
    assert task.train_src.shape == task.train_tgt.shape
    assert ((task.train_src == PAD) == (task.train_tgt == PAD)).all()
    with pytest.raises(ValueError):
        generate(np.random.default_rng(1), "zh_numerals", n_train=5, n_test=5, interface="encoder")


# ------------------------------------------------------------------------------ opaque ids


def test_a_box_is_told_sizes_and_specials_only():
    task = permute_tokens(_task(), np.random.default_rng(0))
    box = task.box_vocab()
    assert box == {
        "src": ["<pad>", "<bos>", "<eos>"] + [f"<{i}>" for i in range(3, 17)],
        "tgt": ["<pad>", "<bos>", "<eos>"] + [f"<{i}>" for i in range(3, 13)],
        "pad": PAD,
        "bos": BOS,
        "eos": EOS,
    }
    text = json.dumps(box, ensure_ascii=False)
    assert not any(token in text for token in seqtasks.ZH_TOKENS) and "numerals" not in text


@pytest.mark.parametrize("name", ["zh_numerals", "en_numerals", "reverse", "sort"])
def test_shuffled_ids_keep_the_task_and_change_per_job(name):
    plain = generate(np.random.default_rng(8), name, n_train=300, n_test=100, max_value=9999)
    a = permute_tokens(plain, np.random.default_rng(1))
    b = permute_tokens(plain, np.random.default_rng(2))
    for split in ("train_src", "train_tgt", "test_src", "test_tgt"):
        side = split[-3:]
        assert [plain.text(r, side) for r in getattr(plain, split)] == [
            a.text(r, side) for r in getattr(a, split)
        ]  # read outside, the same pairs
        for special in (PAD, BOS, EOS):  # the specials keep their ids
            assert ((getattr(plain, split) == special) == (getattr(a, split) == special)).all()
    assert a.src_vocab[:3] == a.tgt_vocab[:3] == seqtasks.SPECIALS
    assert sorted(a.src_vocab) == sorted(plain.src_vocab)
    assert (a.src_vocab, a.tgt_vocab) != (b.src_vocab, b.tgt_vocab)
    assert (a.test_src != plain.test_src).any()


@pytest.mark.parametrize("seed", range(12))
def test_rules_on_ids_answer_nothing(seed):
    """Reversing the source ids gives not one right digit (no digit has the same id on
    both sides), and sorting them about no right answer (the order of the ids is not the
    digits' order)."""
    rng = np.random.default_rng(seed)
    rev = permute_tokens(
        generate(rng, "reverse", n_train=300, n_test=200, interface="encoder"), rng
    )
    srt = permute_tokens(generate(rng, "sort", n_train=300, n_test=200, interface="encoder"), rng)
    for task in (rev, srt):
        assert all(task.src_vocab.index(d) != task.tgt_vocab.index(d) for d in seqtasks.DIGITS)
    mask = rev.test_src != PAD
    reversed_ids = np.stack(
        [np.r_[r[m][::-1], r[~m]] for r, m in zip(rev.test_src, mask, strict=True)]
    )
    assert not ((reversed_ids == rev.test_tgt) & mask).any()
    mask = srt.test_src != PAD
    sorted_ids = np.stack(
        [np.r_[np.sort(r[m]), r[~m]] for r, m in zip(srt.test_src, mask, strict=True)]
    )
    exact, *_ = compare("encoder", sorted_ids, srt.test_tgt, srt.test_src)
    assert exact.mean() < 0.02


def test_a_parser_of_the_published_ids_reads_nothing():
    """A hand-written parser that assumes the ids of an unshuffled task (零 = 3, ...,
    万 = 16; the digit d = 3 + d) answers nothing right once the ids are shuffled."""
    numbers = {zh_numeral(n): n for n in range(10_000)}
    hits = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        task = permute_tokens(generate(rng, "zh_numerals", n_train=200, n_test=200,
                                       max_value=9999), rng)  # fmt: skip
        for src, tgt in zip(task.test_src, task.test_tgt, strict=True):
            text = "".join(seqtasks.ZH_TOKENS[i - 3] for i in src.tolist() if i > EOS)
            if text in numbers:
                answer = [3 + int(c) for c in str(numbers[text])] + [EOS]
                hits += answer == tgt[: len(answer)].tolist()
    assert hits <= 5  # of 1,000: a parser on shuffled ids is right only by chance


# ------------------------------------------------------------------------------ schema

SPEC = """
title: Mini sequence
files:
  - name: seq.py
resources: {memory_mb: 3072, wall_seconds: 120, threads: 2, runtime: torch}
questions:
  - id: q
    title: sequences
    checks:
      - id: s2s
        kind: sequence
        module: seq
        task: {name: zh_numerals, n_train: 2000, n_test: 300, max_value: 9999}
        train: {loop: student, epochs: 8, wall_seconds: 120}
        predict: translate
        credit: {floor: 0.1, target: 0.9}
        points: 5
      - id: enc
        kind: sequence
        module: seq
        interface: encoder
        task: {name: sort, n_train: 3000, n_test: 300, min_length: 2, max_length: 4}
        train: {loop: grader, epochs: 4, batch_size: 32, lr: 0.003, wall_seconds: 120}
        metric: token_accuracy
        credit: {floor: 0.3, target: 0.6}
        constraints: {max_params: 100000, forbidden_imports: [sklearn]}
        points: 5
"""


def spec_with(*checks: str, text: str = SPEC, epochs: int | None = None):
    data = yaml.safe_load(text)
    for q in data["questions"]:
        q["checks"] = [c for c in q["checks"] if c["id"] in checks]
        for c in q["checks"]:
            c["train"]["epochs"] = epochs or c["train"]["epochs"]
    return load_spec_text(yaml.safe_dump(data, allow_unicode=True), "mini-seq", "mini-seq")


def check_named(check_id: str) -> SequenceCheck:
    check = spec_with(check_id).spec.questions[0].checks[0]
    assert isinstance(check, SequenceCheck)
    return check


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"predict": None}, "needs predict"),
        ({"interface": "encoder"}, "another length"),
        ({"task": {"name": "zh_numerals", "n_train": 900, "n_test": 100, "max_value": 999}}, "90%"),
        ({"task": {"name": "sort", "max_length": 2, "min_length": 3}}, "must not exceed"),
        ({"task": {"name": "klingon"}}, "klingon"),
        ({"metric": "bleu"}, "bleu"),
    ],
)
def test_schema_refuses_inconsistent_checks(change, error):
    data = yaml.safe_load(SPEC)
    check = data["questions"][0]["checks"][0]
    for key, value in change.items():
        if value is None:
            check.pop(key)
        else:
            check[key] = value
    with pytest.raises(Exception, match=error):
        load_spec_text(yaml.safe_dump(data, allow_unicode=True), "bad", "bad")


# ------------------------------------------------------------------------------ scoring


def _task():
    return generate(np.random.default_rng(2), "zh_numerals", n_train=100, n_test=50, max_value=999)


def _perfect(task, width):
    out = np.zeros((len(task.test_tgt), width), dtype=np.int64)
    out[:, : task.test_tgt.shape[1]] = task.test_tgt
    return out


def test_perfect_predictions_earn_full_points():
    check, task = check_named("s2s"), _task()
    _, width = widths(check, task)
    outcome = score(check, task, _perfect(task, width), [{"epoch": 1.0, "loss": 0.5}])
    assert outcome.earned == outcome.points == 5
    assert outcome.details["exact_match"] == outcome.details["token_accuracy"] == 1.0
    assert outcome.details["wrong_examples"] == [] and outcome.details["unfinished"] == 0
    assert outcome.details["curve"] == [{"epoch": 1.0, "loss": 0.5}]


def test_exact_match_stops_at_eos_and_counts_length_errors():
    check, task = check_named("s2s"), _task()
    _, width = widths(check, task)
    preds = _perfect(task, width)
    preds[0, task.test_tgt.shape[1] :] = 7  # garbage after EOS: ignored
    length = int((task.test_tgt[1] != PAD).sum())  # digits + EOS
    preds[1, length - 1] = 5  # one extra digit where EOS was
    preds[1, length] = EOS
    preds[2, :] = 5  # never ends
    exact, matched, counted, ended = compare("seq2seq", preds, task.test_tgt, task.test_src)
    assert exact[0] and not exact[1] and not exact[2]
    assert matched[1] == length - 1 and counted[1] == length  # one token too many
    assert not ended[2] and ended[:2].all()
    outcome = score(check, task, preds, [])
    assert outcome.details["exact_match"] == pytest.approx(48 / 50)
    assert outcome.details["unfinished"] == 1 and "never ended" in outcome.message
    wrong = outcome.details["wrong_examples"]
    assert [w["index"] for w in wrong] == [1, 2]
    assert wrong[0]["predicted"] == wrong[0]["expected"] + "2"  # token id 5 is the digit 2
    assert wrong[0]["source"] == zh_numeral(int(wrong[0]["expected"]))
    assert outcome.earned == 5  # 96% is above the target of 90%


def test_credit_line_and_hint():
    check, task = check_named("s2s"), _task()
    _, width = widths(check, task)
    preds = _perfect(task, width)
    preds[:25, 0] = 3  # the first digit wrong in half of them ("0" is id 3; no number starts 0)
    outcome = score(check, task, preds, [])
    assert outcome.details["exact_match"] == pytest.approx(0.5)
    assert outcome.earned == pytest.approx(5 * (0.5 - 0.1) / 0.8)
    nothing = np.zeros_like(preds)
    assert score(check, task, nothing, []).earned == 0


def test_training_far_better_than_test_is_pointed_out():
    check, task = check_named("s2s"), _task()
    _, width = widths(check, task)
    curve = [{"epoch": 1.0, "train_accuracy": 0.7}, {"epoch": 2.0, "train_accuracy": 0.995}]
    outcome = score(check, task, np.full((50, width), 5, dtype=np.int64), curve)
    assert "Training accuracy reached 99.5% but the test token accuracy is" in outcome.message
    assert "shifted right" in outcome.message
    fine = score(check, task, _perfect(task, width), curve)
    assert "Training accuracy reached" not in fine.message


def test_untrained_control_zeroes_rule_based_answers():
    check, task = check_named("s2s"), _task()
    _, width = widths(check, task)
    perfect = _perfect(task, width)
    cheat = score(check, task, perfect, [], untrained=perfect)
    assert cheat.earned == 0 and cheat.details["control_failed"]
    assert "untrained model already reaches" in cheat.message
    honest = score(check, task, perfect, [], untrained=np.zeros_like(perfect))
    assert honest.earned == 5 and honest.details["untrained_exact_match"] == 0


def test_encoder_scoring_counts_source_positions_only():
    check = check_named("enc")
    task = make_task(check, np.random.default_rng(4))
    _, width = widths(check, task)
    assert width == task.test_src.shape[1]
    preds = task.test_tgt.copy()
    preds[task.test_src == PAD] = 9  # beyond the source: ignored
    outcome = score(check, task, preds, [])
    assert outcome.details["token_accuracy"] == 1.0 and outcome.earned == 5
    preds[:, 0] = np.where(preds[:, 0] == 3, 4, 3)  # the first position always wrong
    outcome = score(check, task, preds, [])
    tokens = int((task.test_src != PAD).sum())
    assert outcome.details["token_accuracy"] == pytest.approx(1 - len(preds) / tokens)
    assert outcome.details["exact_match"] == 0
    # 100 and 1000 strings of length 2 and 3: fewer than an even share of the 3300 drawn,
    # so all of those drawn are training sources, and the test asks for length 4 only
    assert set(outcome.details["by_source_length"]) == {4}


@pytest.mark.parametrize(
    ("array", "problem"),
    [
        (np.zeros((50, 9)), "dtype float64 is not allowed"),
        (np.zeros((50, 8), dtype=np.int64), "shape (50, 8), expected (50, 9)"),
        (np.zeros((49, 9), dtype=np.int64), "shape (49, 9)"),
        (np.full((50, 9), 13, dtype=np.int64), "token ids must lie in [0, 13)"),
        (np.full((50, 9), -1, dtype=np.int64), "found -1..-1"),
        (np.array([[np.nan] * 9] * 50), "not allowed"),
        (np.zeros((50, 9), dtype=bool), "dtype bool is not allowed"),
        (np.zeros((50, 9, 1), dtype=np.int64), "shape (50, 9, 1)"),
        (np.zeros((2000, 2000), dtype=np.int32), "shape (2000, 2000)"),
    ],
)
def test_hostile_prediction_arrays_are_refused(tmp_path, array, problem):
    path = tmp_path / "predictions.npy"
    np.save(path, array, allow_pickle=False)
    got = load_ids(path, 50, 9, 13, "predictions")
    assert isinstance(got, Said) and problem in got


def test_pickled_and_missing_predictions_are_refused(tmp_path):
    path = tmp_path / "predictions.npy"
    np.save(path, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert "not a readable numeric array" in load_ids(path, 1, 1, 13, "predictions")
    assert "nothing was written" in load_ids(tmp_path / "none.npy", 1, 1, 13, "predictions")
    link = tmp_path / "link.npy"
    link.symlink_to(path)
    assert "not a regular file" in load_ids(link, 1, 1, 13, "predictions")
    ok = check_ids(np.array([[1, 2]], dtype=np.uint8), 13, "p")
    assert isinstance(ok, np.ndarray) and ok.dtype == np.int64


def test_every_task_reads_back_as_text():
    for name in seqtasks.TASKS:
        interface = "encoder" if seqtasks.TASKS[name].same_length else "seq2seq"
        task = generate(np.random.default_rng(0), name, n_train=20, n_test=5, interface=interface)
        assert all(task.text(row, "src") for row in task.test_src)
        assert task.text(np.array([99, PAD]), "tgt") == "<99>"


# ------------------------------------------------------------------------------ sandbox

SEQ = textwrap.dedent('''
    """Small models for the sandbox tests: a GRU encoder-decoder and an MLP "encoder"."""
    import torch
    from torch import nn


    class Seq2Seq(nn.Module):
        def __init__(self, src_vocab, tgt_vocab):
            super().__init__()
            self.src_emb = nn.Embedding(src_vocab, 32)
            self.tgt_emb = nn.Embedding(tgt_vocab, 32)
            self.enc = nn.GRU(32, 64, batch_first=True)
            self.dec = nn.GRU(32, 64, batch_first=True)
            self.out = nn.Linear(64, tgt_vocab)

        def forward(self, src, tgt_in):
            _, h = self.enc(self.src_emb(src))
            y, _ = self.dec(self.tgt_emb(tgt_in), h)
            return self.out(y)


    class Sorter(nn.Module):
        def __init__(self, vocab, width):
            super().__init__()
            self.width, self.vocab = width, vocab
            self.emb = nn.Embedding(vocab, 16)
            self.net = nn.Sequential(nn.Linear(16 * width, 256), nn.ReLU(),
                                     nn.Linear(256, width * vocab))

        def forward(self, src):
            x = torch.zeros(src.shape[0], self.width, dtype=src.dtype, device=src.device)
            x[:, : src.shape[1]] = src
            y = self.net(self.emb(x).flatten(1)).view(-1, self.width, self.vocab)
            return y[:, : src.shape[1]]


    def build_model(src_vocab_size, tgt_vocab_size, max_len):
        if src_vocab_size == 13:  # digits: the sort task
            return Sorter(tgt_vocab_size, max_len)
        return Seq2Seq(src_vocab_size, tgt_vocab_size)


    def train(model, data, config, log):
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        src, tgt = data["src"], data["tgt"]
        bos = torch.full((len(tgt), 1), data["bos"])
        tgt_in = torch.cat([bos, tgt[:, :-1]], 1)
        loss_fn = nn.CrossEntropyLoss(ignore_index=data["pad"])
        for _ in range(config["epochs"]):
            for i in range(0, len(src), 64):
                logits = model(src[i:i + 64], tgt_in[i:i + 64])
                loss = loss_fn(logits.flatten(0, 1), tgt[i:i + 64].flatten())
                opt.zero_grad()
                loss.backward()
                opt.step()
            log({"loss": loss.item()})


    def translate(model, src, max_len):
        _, h = model.enc(model.src_emb(src))
        token = torch.full((len(src), 1), 1)
        out = []
        for _ in range(max_len):
            y, h = model.dec(model.tgt_emb(token), h)
            token = model.out(y).argmax(-1)
            out.append(token)
        return torch.cat(out, 1)
''')


def _folder(tmp_path, source=SEQ):
    folder = tmp_path / "sub"
    folder.mkdir(exist_ok=True)
    (folder / "seq.py").write_text(source)
    return folder


def _grade(tmp_path, folder, spec, seed=7):
    from tests.sandboxed import require_sandbox, sandbox_settings
    from worker.pipeline import JobContext, grade
    from worker.sandbox import get_backend

    settings = sandbox_settings(tmp_path)
    require_sandbox(settings)
    backend = get_backend(settings)
    return grade(JobContext(spec, folder, tmp_path / "no-reference", seed, backend, settings))


SEEN = textwrap.dedent("""
    import hashlib, os

    def _digest(name):
        path = os.path.join("/job/in", name)
        if not os.path.exists(path):
            return "-"
        return hashlib.sha256(open(path, "rb").read()).hexdigest()[:12]

    print("IN:", sorted(os.listdir("/job/in")), "phase", _digest("phase.json"),
          "src", _digest("test_src.npy"), "vocab", open("/job/in/vocab.json").read()[:80])
    _build = build_model

    def build_model(*sizes):
        model = _build(*sizes)
        state = b"".join(v.numpy().tobytes() for v in model.state_dict().values())
        print("BUILT", hashlib.sha256(state).hexdigest()[:12])
        return model
""")


def _sections(log: str) -> dict[str, str]:
    """The report's log by box: {"train (s2s)": its output, ...}."""
    parts = re.split(r"^--- (.+?) phase ---$", log, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2], strict=True))


@pytest.mark.slow
def test_seq2seq_and_encoder_train_and_predict_in_the_sandbox(tmp_path):
    report = _grade(tmp_path, _folder(tmp_path, SEQ + SEEN), spec_with("s2s", "enc"))
    assert report.state == "graded", report.failure_message
    outcomes = {o.check: o for o in report.outcomes}
    s2s, enc = outcomes["s2s"].details, outcomes["enc"].details
    assert s2s["test_examples"] == 300 and s2s["exact_match"] > 0.1, outcomes["s2s"].message
    assert len(s2s["curve"]) == 8 and s2s["curve"][-1]["loss"] < s2s["curve"][0]["loss"]
    assert s2s["untrained_exact_match"] < 0.05
    assert enc["token_accuracy"] > 0.4, outcomes["enc"].message
    assert [p["epoch"] for p in enc["curve"]] == [1.0, 2.0, 3.0, 4.0]
    assert 0 < enc["curve"][-1]["train_accuracy"] <= 1
    assert enc["params"] < 100_000
    assert "untrained_token_accuracy" in enc
    boxes = _sections(report.log)
    for check in ("s2s", "enc"):
        train, init = boxes[f"train ({check})"], boxes[f"init ({check})"]
        model, control = boxes[f"predict ({check})"], boxes[f"control ({check})"]
        # no box holds a test target; the init box holds no data at all
        assert "IN: ['phase.json', 'train_src.npy', 'train_tgt.npy', 'vocab.json']" in train
        assert "IN: ['phase.json', 'vocab.json']" in init
        # the control's model is the train box's before its first step
        assert re.findall("BUILT (\\w+)", train) == re.findall("BUILT (\\w+)", init)
        # the trained model's box and the control's: the same inputs, but the weights
        seen = [line for line in model.splitlines() if line.startswith("IN:")]
        assert seen and seen == [line for line in control.splitlines() if line.startswith("IN:")]
        assert "'test_src.npy', 'vocab.json', 'weights.safetensors']" in seen[0]
        assert 'vocab {"src": ["<pad>", "<bos>", "<eos>", "<3>"' in seen[0]
    assert "test_tgt" not in report.log and "\\u96f6" not in report.log  # nor 零
    assert report.timings["control_seconds"] > 0 and report.timings["init_seconds"] > 0


PARSER = textwrap.dedent("""
    ZH = "零一二三四五六七八九十百千万"  # the ids of an unshuffled task: 零 = 3, ..., 万 = 16


    def parse(row):
        value, section, number = 0, 0, 0
        for i in row:
            if not 3 <= i < 3 + len(ZH):
                continue
            ch = ZH[i - 3]
            if ch in ZH[:10]:
                number = ZH.index(ch)
            elif ch == "万":
                value += (section + number) * 10000
                section = number = 0
            else:
                section += (number or 1) * {"十": 10, "百": 100, "千": 1000}[ch]
                number = 0
        return [3 + int(c) for c in str(value + section + number)] + [2]


    def translate(model, src, max_len):
        if TRAINED_ONLY and not bool(model.trained):
            return [[2]] * len(src)  # the untrained control: say nothing
        return [parse(row) for row in src.tolist()]
""")


def _parser(trained_only: bool) -> str:
    """The SEQ model with a flag that train() sets, and translate() a hand-written parser of
    Chinese numerals written in the ids an unshuffled task would have."""
    loop = '    for _ in range(config["epochs"]):'
    flagged = SEQ.replace(
        "self.out = nn.Linear(64, tgt_vocab)",
        "self.out = nn.Linear(64, tgt_vocab)\n"
        "        self.register_buffer('trained', torch.zeros(()))",
    ).replace(loop, "    model.trained.fill_(1)\n" + loop)
    return flagged + f"\nTRAINED_ONLY = {trained_only}\n" + PARSER


@pytest.mark.slow
def test_a_hand_written_parser_reads_nothing_and_the_control_catches_one_that_could(
    tmp_path, monkeypatch
):
    """The reported attack: a parser of Chinese numerals in translate() that answers only
    when train() has run.  With the ids shuffled per job it answers nothing right.  Then
    the same without the shuffling (seqtasks.permute_tokens replaced by the identity: a
    stand-in for a task whose ids a box could read, which no shipped task is): a parser
    that answers whatever the weights reaches 100% in the control box too, and earns 0."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    flagged = _parser(trained_only=True)
    report = _grade(tmp_path / "a", _folder(tmp_path, flagged), spec_with("s2s", epochs=1))
    outcome = report.outcomes[0]
    assert outcome.details["exact_match"] < 0.05, outcome.message
    assert outcome.earned == 0

    monkeypatch.setattr(seqtasks, "permute_tokens", lambda task, rng: task)
    plain = _parser(trained_only=False)
    report = _grade(tmp_path / "b", _folder(tmp_path, plain), spec_with("s2s", epochs=1))
    outcome = report.outcomes[0]
    assert outcome.details["exact_match"] == 1.0
    assert outcome.details["untrained_exact_match"] == 1.0
    assert outcome.earned == 0 and "untrained model already reaches" in outcome.message


@pytest.mark.slow
def test_bad_predictions_and_forbidden_imports_are_explained(tmp_path):
    floats = SEQ.replace("return torch.cat(out, 1)", "return torch.cat(out, 1).float()")
    report = _grade(tmp_path, _folder(tmp_path, floats), spec_with("s2s", epochs=1))
    message = report.outcomes[0].message
    assert report.outcomes[0].earned == 0
    assert "prediction failed" in message and "translate() must return integer token ids" in message
    banned = "import sklearn\n" + SEQ
    report = _grade(tmp_path, _folder(tmp_path, banned), spec_with("enc"))
    assert "constraint forbidden_imports: seq.py line 1 imports sklearn" in (
        report.outcomes[0].message
    )
