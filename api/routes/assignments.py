"""Assignments: what to hand in, by when, and for how many points."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, Response
from sqlalchemy.orm import Session

from api.deps import BaseUrl, CurrentUser, SessionDep, SettingsDep
from api.lookups import active_assignments, assignment_by_slug, current_spec
from api.schemas import AssignmentDetailOut, AssignmentOut, ErrorOut
from autograder import late_policy, starters
from autograder.refusals import NotFound
from autograder.settings import Settings, get_settings
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
        **starter_links(loaded.slug, base),
    }


def starter_links(slug: str, base: str) -> dict[str, Any]:
    """Where the starter (a zip of the skeleton and the handouts) and each handout are."""
    folder = starters.starter_folder(get_settings().starters_dir, slug)
    url = f"{base}/api/v1/assignments/{slug}"
    return {
        "starter_url": f"{url}/starter.zip" if folder is not None else None,
        "handouts": {
            lang: f"{url}/handout?lang={lang}" for lang in starters.handout_languages(folder)
        },
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


def _starter_folder(slug: str, session: Session, settings: Settings) -> Path:
    assignment = assignment_by_slug(session, slug)  # an open assignment, or 404
    folder = starters.starter_folder(settings.starters_dir, assignment.slug)
    if folder is None:
        raise NotFound(f"assignment {slug!r} has no starter to download")
    return folder


@router.get(
    "/assignments/{slug}/starter.zip",
    response_class=Response,
    responses={
        200: {"content": {"application/zip": {}}, "description": "the starter as a zip"},
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
    },
)
def get_starter(
    slug: str, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Response:
    """The skeleton code to fill in and the handouts (English and Chinese), in a folder
    named after the assignment."""
    folder = _starter_folder(slug, session, settings)
    try:
        data = starters.starter_zip(folder, slug)
    except starters.StarterError as exc:
        raise NotFound(f"assignment {slug!r} has no starter to download") from exc
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{slug}-starter.zip"',
            "Cache-Control": "private, no-cache",
        },
    )


@router.get(
    "/assignments/{slug}/handout",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/markdown": {}}, "description": "the handout (Markdown)"},
        401: {"model": ErrorOut},
        404: {"model": ErrorOut},
    },
)
def get_handout(
    slug: str,
    user: CurrentUser,
    session: SessionDep,
    settings: SettingsDep,
    lang: Annotated[str, Query(pattern="^(en|zh)$")] = "en",
) -> PlainTextResponse:
    """The handout (Markdown) in English (``lang=en``) or Chinese (``lang=zh``)."""
    text = starters.handout(_starter_folder(slug, session, settings), lang)
    if text is None:
        raise NotFound(f"assignment {slug!r} has no handout in {lang!r}")
    return PlainTextResponse(
        text,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'inline; filename="{slug}-{starters.HANDOUTS[lang]}"'},
    )
