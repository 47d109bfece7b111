"""Assignments: what to hand in, by when, and for how many points."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import BaseUrl, CurrentUser, SessionDep
from api.lookups import active_assignments, assignment_by_slug, current_spec
from api.schemas import AssignmentDetailOut, AssignmentOut, ErrorOut
from autograder import late_policy
from autograder.specs.loader import LoadedSpec

router = APIRouter(prefix="/api/v1", tags=["assignments"])


def summary(loaded: LoadedSpec, base: str) -> dict[str, Any]:
    spec = loaded.spec
    return {
        "slug": loaded.slug,
        "title": spec.title,
        "title_zh": spec.title_zh,
        "deadline": spec.deadline,
        "late_policy": {
            **spec.late_policy.model_dump(),
            "closes_at": late_policy.closes_at(spec.deadline, spec.late_policy),
        },
        "files": [f.model_dump() for f in spec.files],
        "max_points": spec.max_points,
        "device": spec.resources.device,
        "url": f"{base}/api/v1/assignments/{loaded.slug}",
        "upload_page": f"{base}/assignments/{loaded.slug}/upload",
    }


def detail(loaded: LoadedSpec, base: str) -> dict[str, Any]:
    """The summary plus questions and checks: ids, titles and points, never a check's inputs,
    tolerances or hints."""
    spec = loaded.spec
    questions = [
        {
            "id": q.id,
            "title": q.title,
            "points": sum(c.points for c in q.checks),
            "checks": [
                {
                    "id": c.id,
                    "kind": c.kind,
                    "title": c.title,
                    "points": c.points,
                    "hidden": c.hidden,
                }
                for c in q.checks
            ],
        }
        for q in spec.questions
    ]
    return summary(loaded, base) | {
        "description": spec.description,
        "quota": spec.quota.model_dump(),
        "questions": questions,
    }


@router.get(
    "/assignments", response_model=list[AssignmentOut], responses={401: {"model": ErrorOut}}
)
def list_assignments(user: CurrentUser, session: SessionDep, base: BaseUrl) -> list[dict[str, Any]]:
    """Every open assignment, by deadline."""
    return [summary(loaded, base) for _, loaded in active_assignments(session)]


@router.get(
    "/assignments/{slug}",
    response_model=AssignmentDetailOut,
    responses={401: {"model": ErrorOut}, 404: {"model": ErrorOut}},
)
def get_assignment(
    slug: str, user: CurrentUser, session: SessionDep, base: BaseUrl
) -> dict[str, Any]:
    loaded = current_spec(session, assignment_by_slug(session, slug))
    return detail(loaded, base)
