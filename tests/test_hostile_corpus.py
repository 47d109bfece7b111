"""The hostile corpus (tests/hostile_corpus/<case>/: files + expected.json) through the REAL
path: upload over HTTP to a real API server, Redis, a real worker process (concurrency 2),
the sandbox, scoring outside, Postgres. Then every outcome is checked, and canaries planted
where a submission might look (a hidden file beside the reference solution and in the data
folder, the worker's environment, a host file under /root and one in the service's home)
must appear nowhere: not in any text of the database, the API or worker logs, or any
answer the API gave.

Runs on bwrap always; on docker when tests/docker_engine.py finds an engine and image
(skipped with the reason otherwise, failed under AUTOGRADER_TEST_REQUIRE_SERVICES=1).
Not testable here: GPU memory abuse (no GPU on this machine; the GPU paths are covered
by the per-backend tests on a GPU host).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import threading
import time
import uuid
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from autograder.assignments import sync_specs
from autograder.models import Role
from autograder.tokens import create_user
from tests.sandboxed import (
    MINI_GENERATIVE,
    MINI_GENERATIVE_SPEC,
    MINI_GRADIENT,
    MINI_GRADIENT_SPEC,
    MINI_MNIST,
    MINI_MNIST_SPEC,
    MINI_OUTPUT,
    MINI_OUTPUT_SPEC,
    MINI_REFERENCE,
    MINI_SCRIPT,
    MINI_SCRIPT_SPEC,
    MINI_SEQUENCE,
    MINI_SEQUENCE_SPEC,
    MINI_SPEC,
    REQUIRE,
)
from worker.sandbox import SandboxUnavailable, cgroups, get_backend

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parent / "hostile_corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.json").is_file())
# AG_CORPUS_ONLY=fairness- runs only the cases whose name starts so (to work on a few).
ONLY = os.environ.get("AG_CORPUS_ONLY", "")
HOST_CANARY_FILE = Path("/root/ag-corpus-canary.txt")
DAEMON_MARK = b"AG-CORPUS-DAEMON-MARK"
FINAL = ("graded", "failed_student", "failed_infra")


def load(case: str) -> dict:
    return json.loads((CORPUS / case / "expected.json").read_text())


def _specs(folder: Path) -> Path:
    folder.mkdir()
    mini = MINI_SPEC.read_text()
    (folder / "corpus-mini.yaml").write_text(mini)
    for slug, quota in (("corpus-quota", "total: 2"), ("corpus-daily", "per_day: 1")):
        (folder / f"{slug}.yaml").write_text(
            mini.replace("files:", f"quota:\n  {quota}\nfiles:", 1)
        )
    weights = MINI_MNIST_SPEC.read_text()
    weights = (
        weights[: weights.index("questions:")]
        + "questions:\n"
        + weights[weights.index("  - id: uploaded") :]
    )
    (folder / "corpus-weights.yaml").write_text(weights)
    (folder / "corpus-gradient.yaml").write_text(MINI_GRADIENT_SPEC.read_text())
    generative = MINI_GENERATIVE_SPEC.read_text()
    head, ae = generative[: generative.index("  - id: gan")], generative.index("  - id: ae")
    (folder / "corpus-gan.yaml").write_text(generative[:ae])
    (folder / "corpus-ae.yaml").write_text(head + generative[ae:])
    sequence = MINI_SEQUENCE_SPEC.read_text()
    head, rev = sequence[: sequence.index("  - id: numerals")], sequence.index("  - id: reverse")
    (folder / "corpus-numerals.yaml").write_text(sequence[:rev])
    (folder / "corpus-reverse.yaml").write_text(head + sequence[rev:])
    (folder / "corpus-output.yaml").write_text(MINI_OUTPUT_SPEC.read_text())
    (folder / "corpus-script.yaml").write_text(MINI_SCRIPT_SPEC.read_text())
    return folder


def _refs(folder: Path, canary: str) -> Path:
    for slug in ("corpus-mini", "corpus-quota", "corpus-daily"):
        (folder / slug).mkdir(parents=True)
        source = (MINI_REFERENCE / "mini.py").read_text()
        (folder / slug / "mini.py").write_text(source + f"\n# hidden: {canary}\n")
        (folder / slug / "hidden_labels.txt").write_text(canary)
    shutil.copytree(MINI_MNIST, folder / "corpus-weights")
    (folder / "corpus-weights" / "hidden_labels.txt").write_text(canary)
    shutil.copytree(MINI_GRADIENT, folder / "corpus-gradient")
    (folder / "corpus-gradient" / "hidden_labels.txt").write_text(canary)
    for slug in ("corpus-gan", "corpus-ae"):
        shutil.copytree(MINI_GENERATIVE, folder / slug)
        (folder / slug / "hidden_labels.txt").write_text(canary)
    for slug in ("corpus-numerals", "corpus-reverse"):
        shutil.copytree(MINI_SEQUENCE, folder / slug)
        (folder / slug / "hidden_labels.txt").write_text(canary)
    shutil.copytree(MINI_OUTPUT, folder / "corpus-output")
    script = folder / "corpus-output" / "basics.py"
    script.write_text(script.read_text() + f"\n# hidden: {canary}\n")
    (folder / "corpus-output" / "hidden_labels.txt").write_text(canary)
    shutil.copytree(MINI_SCRIPT, folder / "corpus-script")
    (folder / "corpus-script" / "hidden_labels.txt").write_text(canary)
    return folder


@pytest.fixture(params=["bwrap", "bwrap-cold", "docker"])
def corpus_service(request, configured, db, tmp_path, monkeypatch):
    """The whole service on one backend: "bwrap" with the worker's boxes started ahead of
    demand (the default), "bwrap-cold" with every box started for its job, "docker"."""
    from tests.conftest import reset_caches
    from tests.processes import ApiServer, WorkerProcess
    from tests.sandboxed import prepared_mnist
    from tests.services import free_port

    canary = f"CANARY-{uuid.uuid4().hex}"
    backend = request.param.removesuffix("-cold")
    env = {"AUTOGRADER_SANDBOX": backend}
    if request.param == "bwrap-cold":
        env["AUTOGRADER_SANDBOX_POOL_SIZE"] = "0"
    if backend == "docker":
        from tests import docker_engine

        env["AUTOGRADER_DOCKER_HOST"] = docker_engine.docker_host()
        env["AUTOGRADER_SANDBOX_IMAGE"] = docker_engine.sandbox_image()
    data = prepared_mnist()
    env.update(
        {
            "AUTOGRADER_REFERENCE_DIR": str(_refs(tmp_path / "refs", canary)),
            "AUTOGRADER_SPECS_DIR": str(_specs(tmp_path / "specs")),
            "AUTOGRADER_DATA_DIR": str(data),
            "AG_CORPUS_CANARY": canary,  # in the worker's (and API's) environment
        }
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_caches()
    from autograder.settings import get_settings

    settings = get_settings()
    try:
        get_backend(settings).check()
    except SandboxUnavailable as exc:
        if REQUIRE:
            pytest.fail(f"sandbox {request.param} unavailable: {exc}")
        pytest.skip(f"sandbox {request.param} unavailable: {exc}")
    planted = [HOST_CANARY_FILE, settings.home / "canary.txt", data / "hidden-canary.txt"]
    for path in planted:
        path.write_text(canary)
    report = sync_specs(db, settings.specs_dir)
    assert not report.errors, report.errors
    db.commit()
    api = ApiServer(tmp_path / "api.log", free_port())
    api.start()
    worker = WorkerProcess(
        tmp_path / "worker.log",
        {"AUTOGRADER_RECONCILE_SECONDS": "2", "AUTOGRADER_REQUEUE_AFTER_SECONDS": "10"},
        concurrency=2,
        queues="cpu,cpu-low",
    )
    worker.start()
    try:
        yield {
            "base": api.url,
            "db": db,
            "canary": canary,
            "logs": [tmp_path / "api.log", tmp_path / "worker.log"],
            "worker": worker,
            "jobs": settings.path("jobs"),
            "backend": request.param,
        }
    finally:
        worker.stop()
        api.stop()
        for path in planted:
            path.unlink(missing_ok=True)


def _token(db, name: str) -> dict[str, str]:
    _, token = create_user(db, name, Role.student)
    db.commit()
    return {"Authorization": f"Bearer {token}"}


def _zip(entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for info, data in entries:
            archive.writestr(info, data)
    return buf.getvalue()


def _parts(case: str, exp: dict) -> list[tuple[str, tuple[str, bytes, str]]]:
    """The multipart `files` parts the case sends."""
    up = exp.get("upload", {})
    mode = up.get("mode", "files")
    folder = CORPUS / case
    own = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.name != "expected.json"}
    octet = "application/octet-stream"
    if mode == "generated":
        return [("files", (up["name"], b"#" * up["bytes"], octet))]
    if mode == "zipbomb":
        data = _zip([(up["name"], b"\n" * up["bytes"])])
        return [("files", ("homework.zip", data, octet))]
    if mode == "zip-symlink":
        info = zipfile.ZipInfo(up["name"])
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        return [("files", ("homework.zip", _zip([(info, up["target"].encode())]), octet))]
    if mode == "zip":
        data = _zip([(up["members"].get(n, n), b) for n, b in own.items()])
        return [("files", ("homework.zip", data, octet))]
    names = up.get("names", {})
    parts = [("files", (names.get(n, n), b, octet)) for n, b in own.items()]
    return parts * up.get("repeat", 1)


def _send(base: str, case: str, exp: dict, headers: dict, answers: list[str]) -> httpx.Response:
    url = f"{base}/api/v1/assignments/{exp['spec']}/submissions"
    up = exp.get("upload", {})
    if up.get("mode") == "raw":
        response = httpx.post(
            url,
            content=up["body"].encode(),
            headers={**headers, "Content-Type": up["content_type"]},
            timeout=60,
        )
    else:
        if up.get("token") == "none":
            headers = {}
        response = httpx.post(url, files=_parts(case, exp), headers=headers, timeout=60)
    answers.append(response.text)
    return response


def _send_at_once(
    base: str, case: str, exp: dict, headers: dict, answers: list[str]
) -> list[httpx.Response]:
    """``count`` uploads of the case released together by a barrier, from threads."""
    count = exp["upload"]["count"]
    barrier = threading.Barrier(count)

    def one(_: int) -> httpx.Response:
        barrier.wait()
        return _send(base, case, exp, headers, answers)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def _burst_problems(case: str, exp: dict, burst: list[httpx.Response]) -> list[str]:
    """Exactly ``accepted`` uploads of the burst got 202; every other one the refusal."""
    statuses = sorted(r.status_code for r in burst)
    wanted = sorted([202] * exp["accepted"] + _statuses(exp) * (len(burst) - exp["accepted"]))
    problems = [f"{case}: statuses {statuses}, wanted {wanted}"] if statuses != wanted else []
    for r in burst:
        if r.status_code != 202 and exp["message"] not in r.text:
            problems.append(f"{case}: {exp['message']!r} not in {r.text[:300]}")
    return problems


def _get(url: str, headers: dict, answers: list[str]) -> httpx.Response:
    response = httpx.get(url, headers=headers, timeout=30)
    answers.append(response.text)
    return response


def _statuses(exp: dict) -> list[int]:
    status = exp["http_status"]
    return status if isinstance(status, list) else [status]


def test_hostile_corpus(corpus_service):
    s = corpus_service
    base, db, answers = s["base"], s["db"], []
    started = time.monotonic()
    cases = [c for c in CASES if c.startswith(ONLY)]
    assert len(cases) >= 40 or ONLY, "the corpus lost its cases"
    accepted: dict[str, tuple[str, dict]] = {}  # case -> (submission url, owner headers)
    problems: list[str] = []
    # ------------------------------------------------------------ upload every case
    for case in cases:
        exp = load(case)
        headers = _token(db, f"u-{case}"[:60])
        mode = exp.get("upload", {}).get("mode")
        if mode == "spam":
            codes = [
                _send(base, case, exp, headers, answers) for _ in range(exp["upload"]["count"])
            ]
            statuses = [r.status_code for r in codes]
            if statuses[:2] != [202, 202] or statuses[2:] != [429] * (len(codes) - 2):
                problems.append(f"{case}: statuses {statuses}")
            last = codes[-1]
            if exp.get("message") and exp["message"] not in last.text:
                problems.append(f"{case}: {exp['message']!r} not in {last.text[:300]}")
            for i, r in enumerate(codes[:2]):
                accepted[f"{case}#{i}"] = (r.json()["url"], headers)
            continue
        if mode == "concurrent":
            burst = _send_at_once(base, case, exp, headers, answers)
            problems += _burst_problems(case, exp, burst)
            for i, r in enumerate(r for r in burst if r.status_code == 202):
                accepted[f"{case}#{i}"] = (r.json()["url"], headers)
            continue
        response = _send(base, case, exp, headers, answers)
        if response.status_code not in _statuses(exp) and mode != "other-student":
            problems.append(
                f"{case}: HTTP {response.status_code}, wanted {exp['http_status']}: "
                f"{response.text[:300]}"
            )
            continue
        if mode == "other-student":
            url = response.json()["url"]
            other = _token(db, f"x-{case}"[:60])
            peeked = _get(url, other, answers)
            listed = _get(f"{base}/api/v1/me/submissions", other, answers)
            guessed = _get(f"{base}/api/v1/submissions/{uuid.uuid4().hex}", other, answers)
            if peeked.status_code not in _statuses(exp) or guessed.status_code != 404:
                problems.append(f"{case}: another student got {peeked.status_code}")
            if response.json()["id"] in listed.text:
                problems.append(f"{case}: another student's list shows the submission")
            accepted[case] = (url, headers)
            continue
        if response.status_code == 202:
            accepted[case] = (response.json()["url"], headers)
        elif exp.get("message") and exp["message"] not in response.text:
            problems.append(f"{case}: {exp['message']!r} not in {response.text[:300]}")
    uploaded = time.monotonic()
    # ------------------------------------------------------------ wait for every result
    results: dict[str, dict] = {}
    deadline = time.monotonic() + 400
    while len(results) < len(accepted) and time.monotonic() < deadline:
        for case, (url, headers) in accepted.items():
            if case in results:
                continue
            body = httpx.get(url, headers=headers, timeout=30).json()
            if body["state"] in FINAL:
                results[case] = body
        time.sleep(1)
    assert len(results) == len(accepted), f"not final: {set(accepted) - set(results)}"
    graded = time.monotonic()
    # ------------------------------------------------------------ check every outcome
    for case, body in results.items():
        answers.append(json.dumps(body))
        exp = load(case.split("#")[0])
        if exp.get("upload", {}).get("mode") in ("spam", "concurrent", "other-student"):
            exp = {"state": "graded", "score": [8, 8]}
        shown = json.dumps(body, ensure_ascii=False)
        states = exp["state"] if isinstance(exp["state"], list) else [exp["state"]]
        summary = (
            f"{case}: state {body['state']} score {body.get('score')} "
            f"kind {body.get('failure_kind')} msg {str(body.get('failure_message'))[:150]!r}"
        )
        print(summary)
        if body["state"] not in states:
            problems.append(f"{summary} (wanted {states})")
            continue
        if exp["score"] is None:  # no score at all (a run that ended ours, uncharged)
            if body.get("score") is not None:
                problems.append(f"{summary} (wanted no score)")
        else:
            lo, hi = exp["score"]
            if body.get("score") is None or not lo <= body["score"] <= hi:
                problems.append(f"{summary} (wanted score in [{lo}, {hi}])")
        if exp.get("failure_kind") and body.get("failure_kind") != exp["failure_kind"]:
            problems.append(f"{summary} (wanted kind {exp['failure_kind']})")
        if exp.get("message") and exp["message"] not in shown:
            problems.append(f"{case}: the student does not see {exp['message']!r}")
        for bad in exp.get("not_in_answer", []):
            if bad in shown:
                problems.append(f"{case}: the answer shows {bad!r}")
        if exp.get("failed_checks"):
            problems += _check_failed(db, body["id"], case, exp["failed_checks"])
    # ------------------------------------------------------------ leaks and leftovers
    canary = s["canary"]
    for table, row in _dump_database(db):
        if canary in row:
            problems.append(f"canary in the database, table {table}: {row[:300]}")
    for log in s["logs"]:
        if canary in log.read_text(errors="replace"):
            problems.append(f"canary in {log.name}")
    problems += [f"canary in an API answer: {a[:300]}" for a in answers if canary in a]
    problems += _leftovers(s)
    print(
        f"corpus on {s['backend']}: {len(cases)} cases, {len(accepted)} graded runs; upload "
        f"{uploaded - started:.1f}s, grading {graded - uploaded:.1f}s, total "
        f"{time.monotonic() - started:.1f}s"
    )
    if problems:  # every answer, for whoever reads the failure
        Path(os.environ.get("AG_CORPUS_DUMP", "/tmp/ag-corpus-answers.json")).write_text(
            json.dumps(results, indent=1, ensure_ascii=False)
        )
    assert not problems, "\n".join(problems)


def _check_failed(db, submission_id: str, case: str, checks: list[str]) -> list[str]:
    from sqlalchemy import select

    from autograder.models import GradingRun

    db.expire_all()
    run = db.scalars(select(GradingRun).where(GradingRun.submission_id == submission_id)).one()
    db.commit()
    earned = {f"{o['question']}/{o['check']}": o["earned"] for o in run.outcomes or []}
    return [
        f"{case}: check {c} earned {earned.get(c)} (must fail)"
        for c in checks
        if earned.get(c, 0) > 0
    ]


def _dump_database(db) -> list[tuple[str, str]]:
    """Every row of every table of the service, as text."""
    tables = db.execute(
        text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    ).scalars()
    rows = []
    for table in list(tables):
        for (row,) in db.execute(text(f'SELECT row_to_json(t)::text FROM "{table}" t')):
            rows.append((table, row))
    db.commit()
    return rows


def _leftovers(s: dict) -> list[str]:
    problems = []
    # A live worker keeps boxes started ahead of demand (worker/sandbox/pool.py); once
    # stopped it must have removed them, with whatever the cases left.
    s["worker"].stop()
    deadline = time.monotonic() + 15
    while True:
        prefix = f"box-{s['worker'].proc.pid}-"
        busy = [
            n for n in cgroups.box_names() if n.startswith(prefix) and cgroups.box_cgroup(n).pids()
        ]
        groups = [n for n in cgroups.box_names() if n.startswith(prefix)]
        mounts = [m for m in Path("/proc/mounts").read_text().splitlines() if str(s["jobs"]) in m]
        daemons = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and DAEMON_MARK in (proc / "cmdline").read_bytes():
                    daemons.append(proc.name)
            except OSError:
                pass
        if not (busy or groups or mounts or daemons) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if busy or groups:
        problems.append(f"sandbox cgroups left: {groups} (with processes: {busy})")
    if mounts:
        problems.append(f"sandbox mounts left: {mounts}")
    if daemons:
        problems.append(f"a student daemon outlived its sandbox: pids {daemons}")
    if s["backend"] == "docker":
        from tests.docker_engine import box_containers

        if box_containers():
            problems.append("a sandbox container was left behind")
    return problems
