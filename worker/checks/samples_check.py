"""Check kind ``samples``: a generator trained by the student's loop, sampled from noise
the grader draws, its samples judged outside by the project's MNIST classifier.

Phases (each a fresh sandbox; artifacts flow forward only):
- train:    the student's train(generator, images, config, log) on the training images
            only (no labels), within the spec's wall budget; writes weights.safetensors
            and metrics.jsonl (e.g. d_loss, g_loss per epoch);
- generate: a fresh build_generator() loads those weights and maps noise z, drawn HERE
            from the job's secret seed (ctx.rng), to samples.npy (N, 28, 28);
- score:    here, in numpy: dtype, shape, finiteness and the [0, 1] range first; then the
            copies (worker/checks/copies.py): samples that copy an MNIST image, training or
            test, possibly shifted, mirrored, noisy or blended with a neighbour, are left
            out, and above ``copies.max_fraction`` of them the check earns nothing (rule
            11); then the judge (worker/judges/mnist_judge.py, checksummed weights) on the
            rest:
            * confidence: the mean top-class probability (do the samples look like digits?),
            * coverage:   the effective number of digits, exp(entropy of the judge's class
                          histogram) / 10: 1 when all ten digits are equally common, 0.1
                          when one digit is all there is (mode collapse),
            * frechet:    the Frechet distance between the judge's 128 penultimate features
                          of the samples and of the 10,000 real MNIST test images.
            Each earns its share of the points on its own credit line; confidence and
            coverage only once the Frechet line earns points (the primary metric: an
            untrained generator's noise can look confident to the judge).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.failures import FailureCode, GradingError
from autograder.grading.said import Said, say
from autograder.specs.schema import FallingCredit, RisingCredit, SamplesCheck
from worker.checks import generative_phases as gp
from worker.checks.base import Outcome
from worker.checks.common.credit import credit_fraction, rising_fraction
from worker.checks.common.hints import with_hint, zero
from worker.checks.copies import POSES, Copies, ImageIndex, find_copies, mnist_index, pose
from worker.checks.phases import PhaseContext, PhaseLog, load_array
from worker.judges.mnist_judge import JudgeUnavailable, MnistJudge, frechet_distance, load_judge

COVERAGE_MIN_SHARE = 0.01  # a digit under 1% of the samples counts as missing in feedback
SHOW_COPIES = 8  # copied samples named in the details


def run(check: SamplesCheck, ctx: PhaseContext) -> tuple[Outcome, PhaseLog]:
    log = PhaseLog()
    try:
        judge = load_judge()
    except JudgeUnavailable as exc:
        raise GradingError(FailureCode.JUDGE_UNAVAILABLE, str(exc)) from exc
    refused = gp.static_problem(check, ctx)
    if refused:
        return zero(check, refused), log
    weights, train_curve, message = gp.train(check, ctx, log, check.generator)
    if weights is None:
        return zero(check, message, {"curve": train_curve}), log
    z = noise(check, ctx.rng(check.id))
    out, problem = gp.later_phase(
        check,
        ctx,
        log,
        "generate",
        say("generative.generation"),
        check.generator,
        weights,
        {"z": z},
        check.generate_wall_seconds,
    )
    if out is None:
        return zero(check, problem, {"curve": train_curve}), log
    samples = read_samples(out, check.samples)
    if isinstance(samples, Said):
        return zero(check, samples, {"curve": train_curve}), log
    real = real_features(ctx, judge)
    index = mnist_index(
        Path(ctx.visible_data["train_images.npy"]), Path(ctx.visible_data["test_images.npy"])
    )
    return score(check, samples, judge, real, train_curve, index), log


def noise(check: SamplesCheck, rng: np.random.Generator) -> np.ndarray:
    """The generator's input: standard normal z (samples, latent_dim), from the job's seed."""
    return rng.standard_normal((check.samples, check.latent_dim)).astype(np.float32)


def _generated() -> Said:
    return say("samples.generated_samples")


def read_samples(out: Path, n: int) -> np.ndarray | Said:
    path = gp.artifact(out, "samples.npy", n * 784 * 8 + 4096)
    if isinstance(path, Said):
        return say("phases.labelled", what=_generated(), problem=path)
    return load_array(path, kinds="f", shape=(n, 28, 28), what=_generated())


_REAL_LOCK = threading.Lock()
_REAL: dict[tuple[str, int, int], np.ndarray] = {}


def real_features(ctx: PhaseContext, judge: MnistJudge) -> np.ndarray:
    """The judge's features of the real MNIST test images (cached per process)."""
    path = Path(ctx.visible_data["test_images.npy"])
    stat = path.stat()
    key = (str(path), stat.st_ino, stat.st_mtime_ns)
    with _REAL_LOCK:
        if key not in _REAL:
            images = np.load(path, allow_pickle=False)
            _REAL.clear()
            _REAL[key] = judge(images.astype(np.float32) / 255.0).features
        return _REAL[key]


# ------------------------------------------------------------------------------ scoring


def rising(value: float, line: RisingCredit) -> float:
    return rising_fraction(value, line.floor, line.target)


def falling(value: float, line: FallingCredit) -> float:
    return credit_fraction(value, line.full_at, line.zero_at, line.scale)


def score(
    check: SamplesCheck,
    samples: np.ndarray,
    judge: MnistJudge,
    real: np.ndarray,
    train_curve: list[dict[str, Any]],
    index: ImageIndex,
) -> Outcome:
    """Pure: samples (already read as a finite float array of the right shape) -> Outcome."""
    n = check.samples
    if samples.shape != (n, 28, 28) or samples.dtype.kind != "f":
        shapes = {"shape": str(samples.shape), "expected": str((n, 28, 28))}
        return zero(check, say("phases.shape", what=_generated(), **shapes))
    if not np.isfinite(samples).all():
        return zero(check, say("phases.plural_not_finite", what=_generated()))
    lo, hi = float(samples.min()), float(samples.max())
    tol = check.range_tolerance
    if not (lo >= -tol and hi <= 1 + tol):
        return zero(
            check,
            say("samples.out_of_range", lo=lo, hi=hi),
            {"min": lo, "max": hi, "curve": train_curve},
        )
    copies = find_copies(samples, index, check.copies)
    copied = copies_details(copies, index)
    if copies.fraction > check.copies.max_fraction:
        return zero(
            check,
            copies_line(check, copies, index)
            + say("samples.too_many_copies", max_fraction=check.copies.max_fraction),
            {"samples": int(n), "copies": copied, "curve": train_curve},
        )
    outcome = judged(check, samples[~copies.flags], judge, real, train_curve)
    if not copies.count:
        return outcome
    message = copies_line(check, copies, index) + say("samples.copies_earn_nothing")
    judged_message = Said(str(outcome.message), outcome.message_zh)
    details = {**outcome.details, "copies": copied}
    return Outcome(outcome.earned, outcome.points, message + judged_message, details)


def copies_line(check: SamplesCheck, copies: Copies, index: ImageIndex) -> Said:
    rule = check.copies
    first = int(np.flatnonzero(copies.flags)[0])
    return say(
        "samples.copies",
        count=copies.count,
        n=len(copies.flags),
        ratio=rule.ratio,
        first=first,
        image=index.name(int(copies.nearest[first])),
        pose=pose(int(copies.pose[first])),
        first_ratio=float(copies.ratio[first]),
    )


def copies_details(copies: Copies, index: ImageIndex) -> dict[str, Any]:
    shown = np.flatnonzero(copies.flags)[:SHOW_COPIES]
    return {
        "count": copies.count,
        "fraction": copies.fraction,
        "examples": [
            {
                "sample": int(i),
                "image": str(index.name(int(copies.nearest[i]))),
                "pose": POSES[int(copies.pose[i])],
                "distance": float(copies.distance[i]),
                "ratio": float(copies.ratio[i]),
            }
            for i in shown
        ],
        "median_distance": float(np.median(copies.distance)),
        "median_ratio": float(np.median(copies.ratio)),
    }


def judged(
    check: SamplesCheck,
    samples: np.ndarray,
    judge: MnistJudge,
    real: np.ndarray,
    train_curve: list[dict[str, Any]],
) -> Outcome:
    """The judge's verdict on the samples that are not copies (a valid, finite array)."""
    n = len(samples)
    verdict = judge(samples)
    top = verdict.probs.max(axis=1)
    labels = verdict.probs.argmax(axis=1)
    counts = np.bincount(labels, minlength=10)
    shares = counts / n
    nonzero = shares[shares > 0]
    coverage = float(np.exp(-(nonzero * np.log(nonzero)).sum()) / 10)
    confidence = float(top.mean())
    distance = frechet_distance(verdict.features, real)
    credit = check.credit
    parts = {
        "confidence": rising(confidence, credit.confidence),
        "coverage": rising(coverage, credit.coverage),
        "frechet": falling(distance, credit.frechet),
    }
    lines = [
        say(
            "samples.confidence",
            confidence=confidence,
            floor=credit.confidence.floor,
            target=credit.confidence.target,
        ),
        say(
            "samples.coverage",
            coverage=coverage,
            effective=coverage * 10,
            floor=credit.coverage.floor,
            target=credit.coverage.target,
        ),
        say(
            "samples.frechet",
            distance=distance,
            full_at=credit.frechet.full_at,
            zero_at=credit.frechet.zero_at,
        ),
    ]
    if parts["frechet"] <= 0 and (parts["confidence"] > 0 or parts["coverage"] > 0):
        lines.append(say("samples.needs_frechet", zero_at=credit.frechet.zero_at))
        parts["confidence"] = parts["coverage"] = 0.0
    fraction = sum(parts[k] * getattr(credit, k).share for k in parts)
    spread = float(np.std(samples.reshape(n, -1), axis=0).mean())
    worst = int(shares.argmax())
    if shares[worst] >= 0.3:
        lines.append(say("samples.mode_collapse", digit=worst, share=shares[worst], n=n))
    missing = [d for d in range(10) if shares[d] < COVERAGE_MIN_SHARE]
    if missing:
        lines.append(
            say(
                "samples.missing_digits",
                digits=Said(", ", "、").join(map(str, missing)),
                share=COVERAGE_MIN_SHARE,
            )
        )
    if spread < 1e-3:
        lines.append(say("samples.all_the_same"))
    message = Said("\n", "\n").join(lines)
    if fraction < 1:
        message = with_hint(message, check)
    details = {
        "confidence": confidence,
        "coverage": coverage,
        "frechet": distance,
        "class_counts": counts.tolist(),
        "parts": parts,
        "pixel_spread": spread,
        "samples": int(check.samples),
        "judged": int(n),
        "curve": train_curve,
    }
    return Outcome(check.points * fraction, check.points, message, details)
