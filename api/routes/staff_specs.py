"""The instructors' API: specs with their versions and validation, spec uploads, and when
scores and hidden-check feedback are released. TAs may read; only instructors change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy import select

from api.deps import CsrfProtected, InstructorUser, SessionDep, SettingsDep, StaffUser
from api.lookups import assignment_by_slug, current_spec
from api.routes.staff_spec_schemas import (
    ReleaseIn,
    ReleaseOut,
    SpecEntryOut,
    SpecRejectedOut,
    SpecSourceOut,
    SpecUploadedOut,
    StateIn,
    StateOut,
)
from api.schemas import ErrorOut
from autograder import publishing, staff_release, staff_specs
from autograder.feedback import feedback_level
from autograder.models import Assignment, AssignmentState, SpecVersion, utcnow
from autograder.refusals import NotFound
from autograder.specs.loader import LoadedSpec, SpecError, SpecProblem

router = APIRouter(prefix="/api/v1/staff", tags=["instructors"])
READ: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "not signed in"},
    403: {"model": ErrorOut, "description": "not a TA or an instructor"},
    404: {"model": ErrorOut},
}
WRITE: dict[int | str, dict[str, Any]] = READ | {
    403: {"model": ErrorOut, "description": "not an instructor, or no CSRF token"}
}


@router.get("/specs", response_model=list[SpecEntryOut], responses=READ)
def list_specs(_: StaffUser, session: SessionDep, settings: SettingsDep) -> list[dict[str, Any]]:
    """Every assignment's spec versions (newest first, the current one marked), whether
    the loader accepts each today, and the state of its file in grading_specs/."""
    return staff_specs.spec_overview(session, settings.specs_dir, settings.reference_dir)


@router.get("/specs/{slug}/versions/{spec_hash}", response_model=SpecSourceOut, responses=READ)
def spec_source(slug: str, spec_hash: str, _: StaffUser, session: SessionDep) -> dict[str, Any]:
    """The YAML text of one stored version."""
    version = session.scalar(
        select(SpecVersion)
        .join(Assignment, Assignment.id == SpecVersion.assignment_id)
        .where(Assignment.slug == slug, SpecVersion.spec_hash == spec_hash)
    )
    if version is None:
        raise NotFound(
            f"no version {spec_hash[:12]} of {slug!r}", f"{slug!r} 没有版本 {spec_hash[:12]}"
        )
    return {"slug": slug, "spec_hash": spec_hash, "source": version.source}


@router.post(
    "/specs",
    status_code=201,
    response_model=SpecUploadedOut,
    responses=WRITE
    | {422: {"model": SpecRejectedOut, "description": "the spec has mistakes (every one)"}},
)
async def upload_spec(
    user: InstructorUser,
    _: CsrfProtected,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The spec, <slug>.yaml")],
    slug: Annotated[str | None, Form(description="Default: the file's name without .yaml")] = None,
) -> Any:
    """Validate a spec with the same messages as `autograder specs validate`; if it is
    valid, store it as a new version and make it current (the database is the truth;
    grading_specs/ is not written). Results graded before keep their version."""
    filename = (file.filename or "spec.yaml").rsplit("/", 1)[-1]
    slug = slug or filename.removesuffix(".yaml").removesuffix(".yml")
    data = await file.read(staff_specs.MAX_SPEC_BYTES + 1)
    try:
        loaded, changed, assignment, warnings = staff_specs.upload_spec(
            session,
            slug,
            filename,
            data,
            user,
            settings.reference_dir / slug,
            settings.starters_dir / slug,
        )
    except SpecError as exc:
        session.rollback()
        return rejected(exc.problems)
    session.commit()
    return uploaded_out(loaded, changed, assignment, warnings)


@router.post(
    "/specs/{slug}/reload",
    response_model=SpecUploadedOut,
    responses=WRITE
    | {422: {"model": SpecRejectedOut, "description": "the file has mistakes (every one)"}},
)
def reload_spec(
    slug: str,
    user: InstructorUser,
    _: CsrfProtected,
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    """Make the file grading_specs/<slug>.yaml the current version (when it differs from
    an upload, or was edited since it was loaded), with the same checks as an upload."""
    path = settings.specs_dir / f"{slug}.yaml"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFound(f"no file {path}", f"没有文件 {path}") from None
    try:
        loaded, changed, assignment, warnings = staff_specs.upload_spec(
            session,
            slug,
            path.name,
            data,
            user,
            settings.reference_dir / slug,
            settings.starters_dir / slug,
            reloaded_from=path,
        )
    except SpecError as exc:
        session.rollback()
        return rejected(exc.problems)
    session.commit()
    return uploaded_out(loaded, changed, assignment, warnings)


def uploaded_out(
    loaded: LoadedSpec, changed: bool, assignment: Assignment, warnings: list[str]
) -> dict[str, Any]:
    if assignment.state == AssignmentState.draft:
        warnings.append(
            "a draft: students do not see it until its bundle is published with every check "
            "(`autograder assignments publish DIR`)"
        )
    return {
        "slug": loaded.slug,
        "title": loaded.spec.title,
        "spec_hash": loaded.spec_hash,
        "changed": changed,
        "state": assignment.state,
        "warnings": warnings,
    }


@router.put(
    "/assignments/{slug}/state",
    response_model=StateOut,
    responses=WRITE | {409: {"model": ErrorOut, "description": "not publishable now"}},
)
def put_state(
    slug: str, body: StateIn, user: InstructorUser, _: CsrfProtected, session: SessionDep
) -> Any:
    """Withdraw an assignment (students no longer see it nor can submit; every submission
    is kept) or publish it again. Only a version that passed the publish checks
    (`autograder assignments publish`) or was live can be published from here."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    try:
        publishing.set_state(session, assignment, body.state, user)
    except publishing.StateRefused as exc:
        session.rollback()
        messages = {"en": str(exc), "zh": exc.zh}
        return JSONResponse({"detail": str(exc), "messages": messages}, status_code=409)
    session.commit()
    return {"slug": slug, "state": assignment.state, "spec_hash": assignment.spec_hash}


def rejected(problems: list[SpecProblem]) -> JSONResponse:
    count = len(problems)
    detail = f"the spec has {count} problem{'s' if count != 1 else ''}; nothing was changed"
    body = SpecRejectedOut(
        detail=detail,
        problems=[staff_specs.problem_dict(p) for p in problems],
        messages={"en": detail, "zh": f"评分规范有 {count} 处问题，未作任何更改"},
    )
    return JSONResponse(body.model_dump(), status_code=422)


@router.get("/assignments/{slug}/release", response_model=ReleaseOut, responses=READ)
def get_release(slug: str, _: StaffUser, session: SessionDep) -> dict[str, Any]:
    """When students see scores and hidden-check feedback (autograder/staff_release.py)."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    return release_out(session, assignment)


@router.put("/assignments/{slug}/release", response_model=ReleaseOut, responses=WRITE)
def put_release(
    slug: str, body: ReleaseIn, user: InstructorUser, _: CsrfProtected, session: SessionDep
) -> dict[str, Any]:
    """Choose when scores and hidden-check feedback reach students."""
    assignment = assignment_by_slug(session, slug, any_state=True)
    policy = staff_release.ReleasePolicy(**body.model_dump())
    staff_release.save_policy(session, assignment, policy, user)
    session.commit()
    return release_out(session, assignment)


def release_out(session: SessionDep, assignment: Assignment) -> dict[str, Any]:
    policy = staff_release.policy_for(session, assignment)
    spec = current_spec(session, assignment).spec
    now = utcnow()
    return {
        "slug": assignment.slug,
        "scores_mode": policy.scores_mode,
        "scores_released_at": policy.scores_released_at,
        "feedback_mode": policy.feedback_mode,
        "feedback_released_at": policy.feedback_released_at,
        "scores_visible_now": policy.scores_visible(now),
        "feedback_level_now": feedback_level(spec, now, policy),
        "deadline": spec.deadline,
    }
