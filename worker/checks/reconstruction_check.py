"""Check kind ``reconstruction``: an auto-encoder trained by the student's loop, scored
by how well it reconstructs hidden test images from its codes alone.

Phases (each a fresh sandbox; artifacts flow forward only):
- train:  the student's train(model, images, config, log) on the training images only;
          writes weights.safetensors and metrics.jsonl;
- encode: a fresh build_...() loads the weights and encodes test images, chosen HERE from
          the job's secret seed (ctx.rng): the clean ones, or (variant ``denoising``)
          versions with Gaussian noise of ``noise_std`` added here and clipped to [0, 1];
          it writes codes.npy (N, d);
- codes, here: float, shape (N, d) with d <= ``latent_size``, finite, and every value
          within float16's range; then ROUNDED TO FLOAT16. The decode box gets nothing but
          these codes, so the code is a real bottleneck: at most 16 * latent_size bits per
          image cross it, never the image smuggled through the low mantissa bits of
          float32/float64 values (a 32-number code could otherwise carry 32 * 52 bits);
- decode: a fresh box (no test images, clean or noisy) loads the weights and decodes the
          float16 codes into reconstructions.npy (N, 28, 28);
- score, here: reconstructions in [0, 1] (``range_tolerance``), then the mean squared
          error per pixel against the CLEAN test images, which no box running student code
          sees with the denoising variant (with the plain one the encode box sees exactly
          its inputs, and the decode box none). ``credit`` is the MSE's line; the sparse
          variant adds ``sparsity``: the fraction of active code entries (|c| above
          ``tolerance`` x the 99th percentile of |c|, so rescaling the codes changes
          nothing) earns ``sparsity.share`` of the points, but only once the MSE line
          earns points (rule 11: all-zero codes of a model that learnt nothing are
          perfectly sparse).

Memorisation does not pay here the way it does for ``samples``: the score is the error on
test images chosen per job, which the train phase never sees, so a model that stores
training images gains nothing. The test images are public, though: a submission could carry
some in its source (lzma-compressed and binarised, about 30 bytes each: some 3,000 in hw4-2's
100 kB cap) and send a table index through the code. Binarised digits reconstruct at MSE
0.009 (the reference: 0.014), so on the third of the test images such a table holds it
pays; a per-job transform of the test images (rule 11) would close that (not done yet).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from autograder.grading.said import Said, say
from autograder.specs.schema import ReconstructionCheck
from worker.checks import generative_phases as gp
from worker.checks.base import Outcome
from worker.checks.common.credit import credit_fraction
from worker.checks.common.hints import with_hint, zero
from worker.checks.phases import PhaseContext, PhaseLog, load_array

FLOAT16_MAX = float(np.finfo(np.float16).max)  # 65504


def run(check: ReconstructionCheck, ctx: PhaseContext) -> tuple[Outcome, PhaseLog]:
    log = PhaseLog()
    refused = gp.static_problem(check, ctx)
    if refused:
        return zero(check, refused), log
    weights, train_curve, message = gp.train(check, ctx, log, check.model)
    if weights is None:
        return zero(check, message, {"curve": train_curve}), log
    test_images = np.load(ctx.visible_data["test_images.npy"], allow_pickle=False)
    clean, seen = test_inputs(check, ctx.rng(check.id), test_images)
    out, problem = gp.later_phase(
        check, ctx, log, "encode", say("generative.encoding"), check.model, weights,
        {"images": seen}, check.phase_wall_seconds,
    )  # fmt: skip
    if out is None:
        return zero(check, problem, {"curve": train_curve}), log
    codes = read_codes(out, check)
    if isinstance(codes, Said):
        return zero(check, codes, {"curve": train_curve}), log
    out, problem = gp.later_phase(
        check, ctx, log, "decode", say("generative.decoding"), check.model, weights,
        {"codes": codes}, check.phase_wall_seconds,
    )  # fmt: skip
    if out is None:
        return zero(check, problem, {"curve": train_curve}), log
    path = gp.artifact(out, "reconstructions.npy", len(clean) * 784 * 8 + 4096)
    if isinstance(path, Said):
        problem = say("phases.labelled", what=_reconstructions(), problem=path)
        return zero(check, problem, {"curve": train_curve}), log
    recon = load_array(path, kinds="f", shape=(len(clean), 28, 28), what=_reconstructions())
    if isinstance(recon, Said):
        return zero(check, recon, {"curve": train_curve}), log
    return score(check, codes, recon, clean, train_curve), log


def test_inputs(
    check: ReconstructionCheck, rng: np.random.Generator, test_images: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(clean targets, what the encode box sees): a subset of the test images chosen from
    the job's seed, as float32 in [0, 1]; noisy for the denoising variant."""
    n = min(check.test_subset, len(test_images))
    index = rng.choice(len(test_images), size=n, replace=False)
    clean = test_images[index].astype(np.float32) / 255.0
    if check.variant != "denoising":
        return clean, clean
    noise = rng.standard_normal(clean.shape).astype(np.float32) * np.float32(check.noise_std)
    return clean, np.clip(clean + noise, 0.0, 1.0)


def _reconstructions() -> Said:
    return say("reconstruction.reconstructions")


def _codes() -> Said:
    return say("reconstruction.codes_from_encode")


def read_codes(out: Path, check: ReconstructionCheck) -> np.ndarray | Said:
    n = min(check.test_subset, 10000)
    # Room for codes as wide as the image itself, so that too wide a code is named as such.
    path = gp.artifact(out, "codes.npy", n * max(check.latent_size, 784) * 8 + 4096)
    if isinstance(path, Said):
        return say("phases.labelled", what=say("reconstruction.codes"), problem=path)
    codes = load_array(path, kinds="f", shape=(n, None), what=_codes())
    return codes if isinstance(codes, Said) else check_codes(codes, n, check.latent_size)


def check_codes(codes: np.ndarray, n: int, latent_size: int) -> np.ndarray | Said:
    """Pure: the untrusted codes as float16 (N, d), or why they are refused."""
    if not isinstance(codes, np.ndarray) or codes.dtype.kind != "f":
        return say("reconstruction.codes_not_float", what=_codes())
    if codes.ndim != 2 or codes.shape[0] != n:
        return say("reconstruction.codes_shape", what=_codes(), shape=str(codes.shape), n=n)
    d = codes.shape[1]
    if not 1 <= d <= latent_size:
        return say("reconstruction.codes_too_wide", what=_codes(), d=d, latent_size=latent_size)
    if not np.isfinite(codes).all():
        return say("phases.plural_not_finite", what=_codes())
    if np.abs(codes).max() > FLOAT16_MAX:
        return say("reconstruction.codes_beyond_float16", what=_codes(), limit=FLOAT16_MAX)
    return codes.astype(np.float16)


def active_fraction(codes: np.ndarray, tolerance: float) -> float:
    """Share of code entries above ``tolerance`` x the 99th percentile of |code|."""
    magnitude = np.abs(codes.astype(np.float64))
    scale = float(np.percentile(magnitude, 99))
    if scale <= 0:
        return 0.0
    return float((magnitude > tolerance * scale).mean())


def score(
    check: ReconstructionCheck,
    codes: np.ndarray,
    recon: np.ndarray,
    clean: np.ndarray,
    train_curve: list[dict[str, Any]],
) -> Outcome:
    """Pure: checked float16 codes, untrusted reconstructions, clean targets -> Outcome."""
    if recon.dtype.kind != "f" or recon.shape != clean.shape:
        shapes = {"shape": str(recon.shape), "expected": str(clean.shape)}
        return zero(check, say("phases.shape", what=_reconstructions(), **shapes))
    if not np.isfinite(recon).all():
        return zero(check, say("phases.plural_not_finite", what=_reconstructions()))
    lo, hi = float(recon.min()), float(recon.max())
    tol = check.range_tolerance
    if not (lo >= -tol and hi <= 1 + tol):
        return zero(
            check,
            say("reconstruction.out_of_range", lo=lo, hi=hi),
            {"min": lo, "max": hi, "curve": train_curve},
        )
    per_image = ((recon.astype(np.float64) - clean.astype(np.float64)) ** 2).mean(axis=(1, 2))
    mse = float(per_image.mean())
    line = check.credit
    fractions = {"mse": credit_fraction(mse, line.full_at, line.zero_at, line.scale)}
    noisy = say("reconstruction.from_noisy") if check.variant == "denoising" else Said("", "")
    lines = [
        say(
            "reconstruction.error",
            noisy=noisy,
            mse=mse,
            n=len(clean),
            full_at=line.full_at,
            zero_at=line.zero_at,
            worst=float(per_image.max()),
        )
    ]
    details: dict[str, Any] = {
        "mse": mse,
        "code_size": int(codes.shape[1]),
        "test_examples": int(len(clean)),
        "curve": train_curve,
    }
    earned = fractions["mse"] * line.share
    if check.sparsity is not None:
        sp = check.sparsity
        active = active_fraction(codes, sp.tolerance)
        fractions["sparsity"] = credit_fraction(active, sp.full_at, sp.zero_at, "linear")
        details["active_fraction"] = active
        lines.append(
            say(
                "reconstruction.sparsity",
                active=active,
                tolerance=sp.tolerance,
                full_at=sp.full_at,
                zero_at=sp.zero_at,
            )
            + (Said("", "") if fractions["sparsity"] >= 1 else say("reconstruction.l1_penalty"))
        )
        if fractions["mse"] <= 0 and fractions["sparsity"] > 0:
            lines.append(say("reconstruction.sparsity_needs_mse", zero_at=line.zero_at))
            fractions["sparsity"] = 0.0
        earned += fractions["sparsity"] * sp.share
    details["parts"] = fractions
    message = Said("\n", "\n").join(lines)
    if earned < 1:
        message = with_hint(message, check)
    return Outcome(check.points * earned, check.points, message, details)
