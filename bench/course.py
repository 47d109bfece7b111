"""A generated term in a service's database, and what the pages cost as the course grows.

``fill(engine, CourseSize(300, 13, 15))`` writes, with bulk inserts (SQLAlchemy Core
``insert()`` with lists of dicts, in chunks):

- ``students`` users with the student role (``<prefix>-s0001`` ...), no password;
- the first ``homework`` shipped assignments (the rows ``autograder serve`` creates from
  grading_specs/, made by the same code, ``sync_specs``, when the database has none yet);
- ``per`` submissions per student and homework, spread over the two weeks before each
  homework's (generated) due day, the term ending two days ago, with their stored files'
  rows (name, sha256, size of each of the spec's files);
- each submission's grading run in a realistic final state: mostly graded (scores rising
  with the attempts), some failed by the student's program, a few failed on our side or
  superseded; with outcome rows shaped like ``CheckOutcome`` from the spec's checks,
  score, timings, resources and a log;
- a few applied and discarded assignment-wide re-grade batches (a second run for each
  submission of two homework, the re-grade's run current where applied).

``measure_course`` (``python -m bench --course 300x13x15``) times the student's and the
staff's pages and API calls on the empty course and again on the filled one.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.orm import Session

CHUNK = 2000  # rows per INSERT statement batch


@dataclass(frozen=True)
class CourseSize:
    students: int
    homework: int
    per: int  # submissions per student and homework

    @property
    def submissions(self) -> int:
        return self.students * self.homework * self.per

    def __str__(self) -> str:
        return f"{self.students}x{self.homework}x{self.per}"


def parse_size(text: str) -> CourseSize:
    """``300x13x15``: students x homework x submissions each."""
    found = re.fullmatch(r"\s*(\d+)\s*[xX*]\s*(\d+)\s*[xX*]\s*(\d+)\s*", text)
    if not found:
        raise ValueError(f"{text!r}: students x homework x submissions, e.g. 300x13x15")
    size = CourseSize(*(int(n) for n in found.groups()))
    if min(size.students, size.homework, size.per) < 1:
        raise ValueError(f"{text!r}: every count is at least 1")
    return size


def _chunks(rows: list[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def course_assignments(session: Session, count: int) -> list[Any]:
    """The first ``count`` published assignments: the homework by deadline, variants
    (``-script``) and extras last. Loads grading_specs/ first when the database has none
    (what ``autograder serve`` does at start)."""
    from autograder.assignments import sync_specs
    from autograder.models import Assignment, AssignmentState
    from autograder.settings import get_settings

    if not session.scalar(select(func.count()).select_from(Assignment)):
        sync_specs(session, get_settings().specs_dir)
        session.commit()
    rows = list(
        session.scalars(select(Assignment).where(Assignment.state == AssignmentState.published))
    )
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(
        key=lambda a: (
            not re.fullmatch(r"hw\d+-\d+", a.slug),
            a.slug.endswith("-script"),
            a.deadline or far,
            a.slug,
        )
    )
    if len(rows) < count:
        raise ValueError(f"{count} homework asked for, the database has {len(rows)} published")
    return rows[:count]


def _outcomes(
    spec: Any, rng: random.Random, skill: float, failed: bool
) -> tuple[list[dict[str, Any]], float]:
    """CheckOutcome rows for each of the spec's checks, and their earned sum."""
    rows = []
    total = 0.0
    for question, check in spec.checks():
        passed = not failed and rng.random() < skill
        if passed:
            earned = float(check.points)
        elif failed or rng.random() < 0.5:
            earned = 0.0
        else:
            earned = round(float(check.points) * rng.choice((0.25, 0.5, 0.75)), 4)
        total += earned
        error = round(rng.uniform(0.01, 2.0), 4)
        rows.append(
            {
                "question": question.id,
                "check": check.id,
                "title": check.title,
                "title_zh": check.title_zh,
                "question_title": question.title,
                "question_title_zh": question.title_zh,
                "points": float(check.points),
                "earned": earned,
                "passed": passed,
                "message": "all outputs match the reference"
                if passed
                else f"max abs error {error} exceeds the tolerance 1e-05 on input 3 of 8",
                "message_zh": "所有输出都与参考答案一致"
                if passed
                else f"第 3/8 个输入的最大绝对误差 {error} 超过容差 1e-05",
                "hidden": bool(check.hidden),
                "hint_zh": "",
                "details": {} if passed else {"max_abs_error": error, "tolerance": 1e-5},
            }
        )
    return rows, round(total, 6)


def _files(spec: Any, rng: random.Random) -> list[dict[str, Any]]:
    out = []
    for f in spec.files:
        size = rng.randint(800, 12000)
        digest = hashlib.sha256(f"{f.name}{rng.random()}".encode()).hexdigest()
        out.append({"name": f.name, "sha256": digest, "size": size})
    return out


STATES = (  # the current run's final state, with its weight
    ("graded", 0.88),
    ("failed_student", 0.08),
    ("failed_infra", 0.01),
    ("superseded", 0.03),
)


def _state(rng: random.Random) -> str:
    x = rng.random()
    for state, weight in STATES:
        if x < weight:
            return state
        x -= weight
    return "graded"


def _failure(state: str) -> tuple[str | None, str | None, dict[str, Any] | None]:
    from autograder.grading.failures import Failure, FailureCode

    if state == "failed_student":
        failure = Failure(code=FailureCode.TIMEOUT, values={"seconds": 60})
    elif state == "failed_infra":
        failure = Failure(code=FailureCode.WORKER_LOST, detail="the worker was lost")
    else:
        return None, None, None
    return failure.code.value, failure.message(), failure.stored()


LOG = "\n".join(
    f"[train] epoch {i}: loss {1.0 / (i + 1):.4f} accuracy {0.5 + i / 40:.3f}" for i in range(12)
)


def _run(
    spec: Any,
    spec_hash: str,
    queue: str,
    submission_id: str,
    received: datetime,
    state: str,
    skill: float,
    rng: random.Random,
    *,
    batch_id: int | None = None,
    current: bool = True,
    late_days: int = 0,
) -> dict[str, Any]:
    queued = received + timedelta(milliseconds=rng.randint(5, 50))
    started = queued + timedelta(seconds=rng.uniform(0.2, 30))
    took = rng.uniform(0.3, 40)
    finished = started + timedelta(seconds=took)
    kind, message, failure = _failure(state)
    outcomes: list[dict[str, Any]] = []
    raw = score = None
    if state in ("graded", "failed_student"):
        outcomes, raw = _outcomes(spec, rng, skill, failed=state == "failed_student")
        penalty = min(1.0, 0.1 * late_days)
        score = round(raw * (1 - penalty), 6)
    if state == "superseded":
        kind, message = "superseded", "superseded by a newer upload before it was graded"
        started_at = None
        finished = queued + timedelta(seconds=rng.uniform(1, 60))
    else:
        started_at = started
    return {
        "submission_id": submission_id,
        "spec_hash": spec_hash,
        "queue": queue,
        "state": state,
        "attempts": 0 if state == "superseded" else 1,
        "lease_owner": None,
        "lease_expires_at": None,
        "seed": rng.getrandbits(62),
        "queued_at": queued,
        "enqueued_at": queued,
        "started_at": started_at,
        "finished_at": finished,
        "phase": None,
        "progress": {},
        "score": score,
        "raw_score": raw,
        "max_score": float(spec.max_points) if score is not None else None,
        "late_penalty": min(1.0, 0.1 * late_days) if score is not None else 0.0,
        "outcomes": outcomes,
        "log": "" if state == "superseded" else LOG,
        "log_truncated": False,
        "timings": {}
        if state == "superseded"
        else {
            "stage": round(rng.uniform(0.02, 0.1), 4),
            "sandbox_start": round(rng.uniform(0.005, 0.05), 4),
            "runtime_import": round(rng.uniform(0.03, 0.5), 4),
            "student_code": round(took * 0.7, 4),
            "run_total": round(took * 0.9, 4),
            "score": round(rng.uniform(0.001, 0.05), 4),
        },
        "resources": {}
        if state == "superseded"
        else {
            "sandbox_starts": rng.choice((2, 2, 3)),
            "student": {
                "wall_seconds": round(took * 0.7, 4),
                "cpu_seconds": round(took * 0.6, 4),
                "peak_memory_bytes": rng.randint(50, 900) * 2**20,
                "exit_code": 0,
            },
        },
        "failure_kind": kind,
        "failure_message": message,
        "failure": failure,
        "batch_id": batch_id,
        "is_current": current,
    }


@dataclass
class FillReport:
    size: str
    users: int
    assignments: list[str]
    submissions: int
    runs: int
    batches: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def fill(  # noqa: PLR0915 - one generated term, table by table
    engine: Engine,
    size: CourseSize,
    *,
    prefix: str = "course",
    seed: int = 20,
    now: datetime | None = None,
    regrade_batches: int = 2,
    progress: Callable[[str], None] | None = None,
) -> FillReport:
    """Write a generated term into ``engine``'s (migrated) database; see the docstring."""
    from autograder.assignments import spec_for
    from autograder.models import GradingRun, RegradeBatch, Role, Submission, User, new_id
    from autograder.submissions import queue_for

    say = progress or (lambda _text: None)
    started = time.perf_counter()
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    term_end = now - timedelta(days=2)
    with Session(engine, expire_on_commit=False) as session:
        assignments = course_assignments(session, size.homework)
        specs = {a.id: spec_for(session, a).spec for a in assignments}
        staff = session.scalar(select(User.id).where(User.role != Role.student).limit(1))

        users = [
            {
                "name": f"{prefix}-s{i:04d}",
                "role": Role.student,
                "created_at": term_end - timedelta(days=120),
                "full_name": f"Student {i:04d} 学生",
                "email": f"{prefix}-s{i:04d}@example.edu",
                "password_hash": None,
                "must_change_password": False,
            }
            for i in range(1, size.students + 1)
        ]
        user_ids: list[int] = []
        for chunk in _chunks(users):
            user_ids += list(session.scalars(insert(User).returning(User.id), chunk))
        say(f"{len(user_ids)} students")

        skills = {uid: rng.betavariate(5, 2) for uid in user_ids}
        n_sub = n_run = n_batch = 0
        # The re-grades: on the first homework, batches applied (and one discarded).
        regraded: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = {
            a.id: [] for a in assignments[: max(0, regrade_batches)]
        }
        for k, assignment in enumerate(assignments):
            spec = specs[assignment.id]
            queue = queue_for(spec)
            due = term_end - timedelta(days=7 * (len(assignments) - 1 - k))
            opens = due - timedelta(days=14)
            subs: list[dict[str, Any]] = []
            runs: list[dict[str, Any]] = []
            for uid in user_ids:
                times = sorted(
                    opens + timedelta(seconds=rng.uniform(0, 14.2 * 86400)) for _ in range(size.per)
                )
                for attempt, received in enumerate(times):
                    sid = new_id()
                    late_days = max(0, (received - due).days + (received > due))
                    subs.append(
                        {
                            "id": sid,
                            "user_id": uid,
                            "assignment_id": assignment.id,
                            "received_at": received,
                            "is_late": received > due,
                            "late_days": late_days,
                            "files": _files(spec, rng),
                        }
                    )
                    skill = min(0.98, skills[uid] * (0.6 + 0.4 * (attempt + 1) / size.per))
                    state = _state(rng)
                    runs.append(
                        _run(
                            spec,
                            assignment.spec_hash,
                            queue,
                            sid,
                            received,
                            state,
                            skill,
                            rng,
                            late_days=late_days,
                        )
                    )
            if assignment.id in regraded:
                regraded[assignment.id] = [
                    (s, r) for s, r in zip(subs, runs, strict=True) if r["state"] != "superseded"
                ]
            for chunk in _chunks(subs):
                session.execute(insert(Submission), chunk)
            for chunk in _chunks(runs):
                session.execute(insert(GradingRun), chunk)
            session.commit()
            n_sub += len(subs)
            n_run += len(runs)
            say(f"{assignment.slug}: {len(subs)} submissions")

        for aid, pairs in regraded.items():
            spec = specs[aid]
            assignment = next(a for a in assignments if a.id == aid)
            for decided in ("discarded", "applied"):
                created = term_end - timedelta(days=1, hours=2 if decided == "discarded" else 1)
                batch_id = session.scalar(
                    insert(RegradeBatch).returning(RegradeBatch.id),
                    {
                        "assignment_id": aid,
                        "spec_hash": assignment.spec_hash,
                        "scope": "assignment",
                        "auto_apply": False,
                        "state": decided,
                        "created_by": staff,
                        "created_at": created,
                        "decided_by": staff,
                        "decided_at": created + timedelta(minutes=30),
                        "report": {"submissions": len(pairs), "changed": 0},
                    },
                )
                n_batch += 1
                if decided == "discarded":
                    continue  # its runs were never started: dropped
                regrade_runs = [
                    _run(
                        spec,
                        assignment.spec_hash,
                        f"{queue_for(spec)}-low",
                        s["id"],
                        created,
                        "graded",
                        0.8,
                        rng,
                        batch_id=batch_id,
                        late_days=s["late_days"],
                    )
                    for s, _ in pairs
                ]
                # The re-grade's run is current from now on: the upload's run is not.
                ids = [s["id"] for s, _ in pairs]
                for start in range(0, len(ids), CHUNK):
                    session.execute(
                        update(GradingRun)
                        .where(
                            GradingRun.submission_id.in_(ids[start : start + CHUNK]),
                            GradingRun.batch_id.is_(None),
                        )
                        .values(is_current=False)
                    )
                for chunk in _chunks(regrade_runs):
                    session.execute(insert(GradingRun), chunk)
                n_run += len(regrade_runs)
            session.commit()
        if engine.dialect.name == "postgresql":
            # What autovacuum would have done over a term: statistics and the visibility
            # map (without it no scan is index-only).
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM ANALYZE")
    return FillReport(
        size=str(size),
        users=len(user_ids),
        assignments=[a.slug for a in assignments],
        submissions=n_sub,
        runs=n_run,
        batches=n_batch,
        seconds=round(time.perf_counter() - started, 1),
    )


def token_for(engine: Engine, name: str) -> str:
    """A new API token of the user ``name`` (a generated student has none)."""
    from autograder.models import User
    from autograder.tokens import new_token

    with Session(engine) as session:
        user = session.scalars(select(User).where(User.name == name)).one()
        token, _ = new_token(session, user, "bench")
        session.commit()
    return token


def bench_user(engine: Engine, name: str, role: str = "student") -> str:
    """A user of ``role`` made directly in the database, and a token of theirs."""
    from autograder.models import Role, User
    from autograder.tokens import new_token

    with Session(engine) as session:
        user = User(name=name, role=Role(role), full_name=name)
        session.add(user)
        session.flush()
        token, _ = new_token(session, user, "bench")
        session.commit()
    return token


def p95(values: Iterable[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def summary(ms: list[float]) -> dict[str, Any]:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(p95(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def dump(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, default=str)


# --------------------------------------------------------------------------- measuring

# figure: (what is timed, target p95 in ms)
TARGET_MS = 200.0
GRADEBOOK_TARGET_MS = 2000.0
RATIO_TARGET = 1.5
FIGURES: dict[str, tuple[str, float]] = {
    "student_list_page": ("GET / (the student's assignments page)", TARGET_MS),
    "student_list_api": ("GET /api/v1/me/assignments", TARGET_MS),
    "submission_page": ("GET /submissions/{id}", TARGET_MS),
    "submission_api": ("GET /api/v1/submissions/{id}", TARGET_MS),
    "staff_dashboard_page": ("GET /staff", TARGET_MS),
    "staff_dashboard_api": ("GET /api/v1/staff/assignments", TARGET_MS),
    "assignment_stats_api": ("GET /api/v1/staff/assignments/{slug}", TARGET_MS),
    "assignment_submissions_api": ("GET /api/v1/staff/assignments/{slug}/submissions", TARGET_MS),
    "roster_api": ("GET /api/v1/staff/assignments/{slug}/roster", TARGET_MS),
    "gradebook_csv": ("GET /api/v1/staff/gradebook.csv (whole course)", GRADEBOOK_TARGET_MS),
    "metrics": ("GET /metrics", TARGET_MS),
    "upload": ("POST /api/v1/assignments/{slug}/submissions (queued only)", TARGET_MS),
    "regrade_start": ("POST /api/v1/staff/assignments/{slug}/regrades (then discarded)", TARGET_MS),
}


@dataclass
class Actors:
    staff: str  # token
    student: str  # token of the student whose pages are timed
    submission: str  # one of that student's submissions
    uploaders: list[str]  # tokens of students who upload (each within the daily quota)


def time_calls(
    base: str,
    actors: Actors,
    slug: str,
    files: list[tuple[str, bytes]],
    repeat: int,
    warmup: int,
    say: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """Each figure's request ``warmup`` times untimed, then ``repeat`` times timed, one
    after another (one client, keep-alive)."""
    import httpx

    def auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    student, staff = auth(actors.student), auth(actors.staff)
    sid = actors.submission
    gets: dict[str, tuple[str, dict[str, str]]] = {
        "student_list_page": ("/", student),
        "student_list_api": ("/api/v1/me/assignments", student),
        "submission_page": (f"/submissions/{sid}", student),
        "submission_api": (f"/api/v1/submissions/{sid}", student),
        "staff_dashboard_page": ("/staff", staff),
        "staff_dashboard_api": ("/api/v1/staff/assignments", staff),
        "assignment_stats_api": (f"/api/v1/staff/assignments/{slug}", staff),
        "assignment_submissions_api": (f"/api/v1/staff/assignments/{slug}/submissions", staff),
        "roster_api": (f"/api/v1/staff/assignments/{slug}/roster", staff),
        "gradebook_csv": ("/api/v1/staff/gradebook.csv", staff),
        "metrics": ("/metrics", {}),
    }
    out: dict[str, dict[str, Any]] = {}
    uploads = 0
    with httpx.Client(base_url=base, timeout=120, follow_redirects=False) as http:

        def timed(name: str, call: Callable[[], httpx.Response]) -> None:
            ms = []
            for i in range(warmup + repeat):
                started = time.perf_counter()
                r = call()
                took = (time.perf_counter() - started) * 1000
                if r.status_code >= 300:
                    raise RuntimeError(f"{name}: HTTP {r.status_code}: {r.text[:300]}")
                if i >= warmup:
                    ms.append(took)
            out[name] = summary(ms)
            say(f"  {name:<28}p50 {out[name]['p50_ms']:8.1f} ms  p95 {out[name]['p95_ms']:8.1f} ms")

        for name, (path, headers) in gets.items():
            timed(name, _getter(http, path, headers))

        def one_upload() -> httpx.Response:
            nonlocal uploads
            token = actors.uploaders[uploads % len(actors.uploaders)]
            uploads += 1
            return http.post(
                f"/api/v1/assignments/{slug}/submissions",
                files=[("files", f) for f in files],
                headers=auth(token),
            )

        timed("upload", one_upload)

        regrade_ms: list[float] = []
        for i in range(warmup + repeat):
            started = time.perf_counter()
            r = http.post(f"/api/v1/staff/assignments/{slug}/regrades", headers=staff)
            took = (time.perf_counter() - started) * 1000
            if r.status_code != 202:
                raise RuntimeError(f"regrade_start: HTTP {r.status_code}: {r.text[:300]}")
            if i >= warmup:
                regrade_ms.append(took)
            done = http.post(f"/api/v1/staff/regrades/{r.json()['id']}/discard", headers=staff)
            if done.status_code != 200:
                raise RuntimeError(f"regrade discard: HTTP {done.status_code}: {done.text[:300]}")
        out["regrade_start"] = summary(regrade_ms)
        say(
            f"  {'regrade_start':<28}p50 {out['regrade_start']['p50_ms']:8.1f} ms  "
            f"p95 {out['regrade_start']['p95_ms']:8.1f} ms"
        )
    return out


def _getter(http: Any, path: str, headers: dict[str, str]) -> Callable[[], Any]:
    return lambda: http.get(path, headers=headers)


def compare(
    empty: dict[str, dict[str, Any]], filled: dict[str, dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per figure: empty and filled p95, their ratio, the target, whether both hold."""
    rows = {}
    for name, (_, target) in FIGURES.items():
        if name not in filled:
            continue
        before, after = empty[name]["p95_ms"], filled[name]["p95_ms"]
        ratio = after / before if before else None
        rows[name] = {
            "empty_p95_ms": before,
            "filled_p95_ms": after,
            "ratio": round(ratio, 2) if ratio is not None else None,
            "target_ms": target,
            "holds": after <= target and ratio is not None and ratio <= RATIO_TARGET,
        }
    return rows


def print_table(rows: dict[str, dict[str, Any]], baseline: dict[str, float] | None) -> None:
    base = baseline or {}
    print(
        f"\n{'figure':<42}{'empty p95':>11}{'filled p95':>12}{'ratio':>7}{'target':>9}"
        f"{'holds':>7}{'baseline':>10}"
    )
    for name, row in rows.items():
        before = base.get(f"course_{name}_p95_ms")
        ratio = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(
            f"{'course_' + name + '_p95_ms':<42}{row['empty_p95_ms']:>11.1f}"
            f"{row['filled_p95_ms']:>12.1f}{ratio:>7}{'<=' + format(row['target_ms'], 'g'):>9}"
            f"{'yes' if row['holds'] else 'NO':>7}"
            f"{'-' if before is None else format(before, '.1f'):>10}"
        )
    print(f"(holds: filled p95 within the target and at most {RATIO_TARGET}x the empty course's)")


def measured_student(engine: Engine, slug: str) -> tuple[str, str]:
    """The first generated student, and their latest graded submission of ``slug``."""
    from autograder.models import Assignment, GradingRun, RunState, Submission, User

    with Session(engine) as session:
        row = session.execute(
            select(User.name, Submission.id)
            .join(Submission, Submission.user_id == User.id)
            .join(Assignment, Assignment.id == Submission.assignment_id)
            .join(GradingRun, GradingRun.submission_id == Submission.id)
            .where(
                User.name.like("%-s0001"),
                Assignment.slug == slug,
                GradingRun.is_current.is_(True),
                GradingRun.state == RunState.graded,
            )
            .order_by(Submission.received_at.desc())
            .limit(1)
        ).one()
    return row[0], row[1]
