"""Check kind ``output``: the student's whole script, unmodified, against the reference's.

Two boxes, one after the other, with the same environment variables drawn from the job's
secret seed (so a script that prints what it was expected to print for another job earns
nothing): the reference script (instructor code, never beside student code) and the
student's script, each run as ``__main__`` by worker/runner/script_runner.py with its
standard output captured to a file. Outside, both outputs are cut into sections at the
lines that match the spec's marker (the course's ``########### 2. ... ###########``
headings by default), and each section of the reference's is compared with the student's
section of the same name as a stream of tokens: numbers within ``rtol``/``atol``, the text
between them with all whitespace removed (so line breaks, numpy's wrapping and spacing do
not matter). A section earns its weight's share of the points, all or nothing; the
feedback names each differing section and shows the first differing line beside the
expected one (unless ``show_expected: false``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.grading.said import SEP, Said, say
from autograder.specs.schema import OutputCheck
from worker.artifacts import read_capped
from worker.checks.base import Outcome, ReferenceFailed
from worker.checks.common.hints import with_hint, zero
from worker.checks.common.staging import stage_code
from worker.checks.generators import draw_arg
from worker.checks.phases import PhaseContext, PhaseLog, phase_problem, run_phase

MAX_OUTPUT = 1_000_000  # bytes of a script's standard output that are compared
LOG_OUTPUT = 20_000  # characters of it shown in the run's log (the end: where it stopped)
PREAMBLE = ""  # the name of what a script prints before its first heading
NUMBER = re.compile(
    r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b", re.IGNORECASE
)


@dataclass
class Token:
    text: str  # a number as printed, or the text between two numbers without whitespace
    number: float | None
    line: int  # the section's line it came from (0-based)


@dataclass
class Section:
    name: str
    lines: list[str]

    def tokens(self) -> list[Token]:
        out: list[Token] = []
        for i, line in enumerate(self.lines):
            at = 0
            for match in NUMBER.finditer(line):
                _text(out, line[at : match.start()], i)
                out.append(Token(match.group(0), float(match.group(0)), i))
                at = match.end()
            _text(out, line[at:], i)
        return out


def _text(out: list[Token], text: str, line: int) -> None:
    """Text between numbers, whitespace and line breaks removed: text that follows text
    (across a line break) joins it, so "]" then "[" on the next line reads as "][" """
    squeezed = "".join(text.split())
    if not squeezed:
        return
    if out and out[-1].number is None:
        out[-1].text += squeezed
    else:
        out.append(Token(squeezed, None, line))


def sections(text: str, marker: str) -> list[Section]:
    """``text`` cut at the lines ``marker`` matches (each names the section after it)."""
    pattern = re.compile(marker)
    found = [Section(PREAMBLE, [])]
    for line in text.splitlines():
        match = pattern.match(line)
        if match is None:
            found[-1].lines.append(line)
            continue
        name = match.group(1) if pattern.groups else match.group(0)
        found.append(Section(" ".join((name or line).split()), []))
    if not any(line.strip() for line in found[0].lines):
        found.pop(0)
    return found


def _same(a: Token, b: Token, check: OutputCheck) -> bool:
    if a.number is None or b.number is None:
        return a.number is None and b.number is None and a.text == b.text
    if math.isnan(a.number) or math.isnan(b.number):
        return math.isnan(a.number) and math.isnan(b.number)
    return math.isclose(a.number, b.number, rel_tol=check.rtol, abs_tol=check.atol)


def compare(got: Section | None, want: Section, check: OutputCheck) -> Said | None:
    """Why ``got`` differs from ``want`` (None: it does not), in words for the student."""
    if got is None:
        return say("output.not_printed")
    mine, theirs = got.tokens(), want.tokens()
    for a, b in zip(mine, theirs, strict=False):
        if not _same(a, b, check):
            return _differs(got, want, a.line, b.line, check)
    if len(mine) < len(theirs):
        expected = want.lines[theirs[len(mine)].line].strip()
        if check.show_expected:
            return say("output.ends_early_expected", expected=expected)
        return say("output.ends_early")
    if len(mine) > len(theirs):
        return say("output.more", line=got.lines[mine[len(theirs)].line].strip())
    return None


def _differs(got: Section, want: Section, mine: int, theirs: int, check: OutputCheck) -> Said:
    line = got.lines[mine].strip()
    if not check.show_expected:
        return say("output.differs", line=line)
    return say("output.differs_expected", line=line, expected=want.lines[theirs].strip())


def run(check: OutputCheck, ctx: PhaseContext) -> tuple[Outcome, PhaseLog]:
    log = PhaseLog()
    rng = ctx.rng(check.id)
    env = {name: _env_value(draw_arg(arg, {}, rng)) for name, arg in sorted(check.env.items())}
    phase: dict[str, Any] = {
        "module": check.module,
        "env": env,
        "forbidden_imports": check.forbidden_imports,
    }
    expected = _reference_output(check, ctx, phase)
    problem, printed, _ = _run_script(check, ctx, phase, log, say("output.your_script"))
    shown = printed if len(printed) <= LOG_OUTPUT else "...\n" + printed[-LOG_OUTPUT:]
    log.printed.append((f"what your script printed ({check.id})", shown))  # not a message: log
    if problem and not printed.strip():
        return zero(check, problem, {"env": env}), log
    outcome = score(check, printed, expected, env)
    if problem:  # the sections printed before it stopped still count
        said = problem + "\n" + Said(outcome.text, outcome.message_zh)
        outcome.message, outcome.message_zh = said.en, said.zh
    return outcome, log


def score(check: OutputCheck, printed: str, expected: str, env: dict[str, str]) -> Outcome:
    """Points by section: each of the reference's sections the student's output matches."""
    want = sections(expected, check.sections.marker)
    got = {s.name: s for s in sections(printed, check.sections.marker)}
    rows = []
    failed: list[Said] = []  # each differing section with why, in words
    total = earned = 0.0
    for section in want:
        weight = check.sections.weights.get(section.name, 1.0)
        why = compare(got.get(section.name), section, check)
        total += weight
        earned += weight if why is None else 0.0
        named = section.name or say("output.preamble")
        rows.append({"section": str(named), "weight": weight,
                     "passed": why is None, "why": None if why is None else str(why)})  # fmt: skip
        if why is not None:
            failed.append(say("output.section_differs", section=named, why=why))
    fraction = earned / total if total else 0.0
    if not failed:
        message = say("output.all_match", n=len(rows))
    else:
        message = say(
            "output.some_match",
            passed=len(rows) - len(failed),
            n=len(rows),
            failures=SEP.join(failed[:5]),
        )
        message = with_hint(message, check)
    details = {"sections": rows, "env": env}
    return Outcome(check.points * fraction, check.points, message, details)


def _env_value(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _reference_output(check: OutputCheck, ctx: PhaseContext, phase: dict[str, Any]) -> str:
    """What the reference script prints on this job's inputs (its box's log stays out of
    the student's report); it failing is the instructor's problem, never the student's."""
    if ctx.reference_dir is None:
        raise ReferenceFailed(f"{check.id}: no reference solution folder")  # not a message
    src = ctx.job_dir / f"{check.id}-reference-src"  # not a message: a folder
    script = Path(ctx.reference_dir) / f"{check.module}.py"
    if not script.is_file():
        missing = f"{check.module}.py"
        raise ReferenceFailed(f"{check.id}: the reference has no {missing}")  # not a message
    stage_code(Path(ctx.reference_dir), ctx.spec, src)  # the files beside it, as the student's
    problem, printed, output = _run_script(
        check, ctx, phase, PhaseLog(), "the reference script", src_dir=src, label="reference"
    )
    if problem:
        raise ReferenceFailed(f"{check.id}: {problem}\n{output[-2000:]}")  # not a message: staff
    return printed


def _run_script(
    check: OutputCheck,
    ctx: PhaseContext,
    phase: dict[str, Any],
    log: PhaseLog,
    what: Said | str,
    *,
    src_dir: Path | None = None,
    label: str | None = None,
) -> tuple[Said | None, str, str]:
    """One script's box (the student's, or with ``src_dir`` the reference's): why it did
    not end well (None: it did), what it printed on standard output, and its box's log."""
    result, out = run_phase(
        ctx,
        check.id,
        "run",
        "script_runner.py",
        phase,
        log,
        wall_seconds=check.wall_seconds,
        src_dir=src_dir,
        label=label,
        runtime=ctx.spec.resources.runtime,
    )
    problem = phase_problem(what, result, out, log, ctx, check.wall_seconds)
    printed = read_capped(out / "stdout.txt", MAX_OUTPUT).decode("utf-8", errors="replace")
    return problem, printed, result.student_output
