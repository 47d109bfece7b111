"""Response and request models of the account, token, roster and my-assignments endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from api.schemas import AssignmentOut, SubmissionSummaryOut


class MeOut(BaseModel):
    name: str = Field(description="The login name (for roster users: the student id).")
    full_name: str
    email: str | None
    role: Literal["student", "ta", "instructor"]
    has_password: bool
    must_change_password: bool


class TokenOut(BaseModel):
    id: int
    prefix: str = Field(description="The first characters of the token, to tell them apart.")
    label: str
    created_at: datetime
    last_used_at: datetime | None


class TokenCreatedOut(TokenOut):
    token: str = Field(description="The token itself: shown this once, never again.")


class TokenIn(BaseModel):
    label: str = Field(default="", max_length=100, description="A note, e.g. 'laptop'.")


class PasswordIn(BaseModel):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class MyAssignmentOut(AssignmentOut):
    submissions: int = Field(description="How many times you have submitted.")
    best: SubmissionSummaryOut | None = Field(
        description="Your graded submission with the highest score you may see now."
    )
    latest: SubmissionSummaryOut | None = Field(description="Your newest submission.")


class RosterUserOut(BaseModel):
    line: int = Field(description="The line of the CSV file the user came from.")
    name: str
    full_name: str
    email: str | None
    role: Literal["student", "ta", "instructor"]
    created: bool
    initial_password: str | None = Field(
        description="Shown this once: set for new users (and with reset_passwords)."
    )


class RosterImportOut(BaseModel):
    created: int
    updated: int
    users: list[RosterUserOut]


class RosterErrorOut(BaseModel):
    detail: str
    code: str
    errors: list[str] = Field(description="Every problem, each starting with 'line N:'.")
