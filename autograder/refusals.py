"""Why a request is refused, as the student should read it. The API maps each class to an
HTTP status in one place (``api/errors.py``); nothing here knows about HTTP.

Every refusal has a stable ``code`` and a message that names the problem::

    Refused
    ├── Unauthorized        auth:unauthorized        no, bad or revoked token or session
    ├── Forbidden           auth:forbidden           signed in, but the role may not do this
    │   └── CsrfFailed      auth:csrf                a cookie-authenticated change without
    │                                                its session's CSRF token
    ├── TooManyAttempts     auth:rate-limited        too many failed sign-ins (retry_after s)
    ├── NotFound            not-found                unknown assignment / submission
    ├── BadRequest          request:invalid          a value the request may not have
    │   └── RosterInvalid   roster:invalid           a roster CSV with problems (``errors``)
    ├── BadUpload           upload:bad-request       malformed request
    │   ├── UnexpectedFile  upload:unexpected-file   a file the spec does not ask for
    │   ├── DuplicateFile   upload:duplicate-file    the same required file twice
    │   ├── NotUtf8         upload:not-utf8          a .py file that is not UTF-8 text
    │   └── BadArchive      upload:bad-archive       corrupt, encrypted or unsafe zip
    ├── MissingFile         upload:missing-file      a required file is absent
    ├── TooLarge            upload:too-large         a file, the request or the file count
    ├── UploadsClosed       upload:closed            past the hard cut-off
    ├── QuotaExceeded       upload:quota             too many submissions (retry_after s)
    ├── QueueFull           upload:busy              too many runs queued (retry_after s)
    └── Conflict            conflict                 not now: e.g. a re-grade still open
"""

from __future__ import annotations


class Refused(Exception):
    """``message`` in English; ``zh`` the same in Chinese where the refusal has it (the
    student's own refusals: uploads), which the API sends beside it and pages in Chinese
    show instead."""

    code = "refused"

    def __init__(self, message: str, zh: str = ""):
        self.message = message
        self.zh = zh
        super().__init__(message)

    @property
    def messages(self) -> dict[str, str]:
        """The message by language: English always, Chinese where there is one."""
        return {"en": self.message, "zh": self.zh} if self.zh else {"en": self.message}


class Unauthorized(Refused):
    code = "auth:unauthorized"


class Forbidden(Refused):
    code = "auth:forbidden"


class CsrfFailed(Forbidden):
    code = "auth:csrf"


class TooManyAttempts(Refused):
    code = "auth:rate-limited"

    def __init__(self, message: str, retry_after: int | None):
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(Refused):
    code = "not-found"


class BadRequest(Refused):
    code = "request:invalid"


class RosterInvalid(BadRequest):
    code = "roster:invalid"

    def __init__(
        self, message: str, errors: list[str], zh: str = "", errors_zh: list[str] | None = None
    ):
        super().__init__(message, zh)
        self.errors = errors
        self.extra: dict[str, list[str]] = {"errors": errors}
        if errors_zh is not None:
            self.extra["errors_zh"] = errors_zh


class BadUpload(Refused):
    code = "upload:bad-request"


class UnexpectedFile(BadUpload):
    code = "upload:unexpected-file"


class DuplicateFile(BadUpload):
    code = "upload:duplicate-file"


class NotUtf8(BadUpload):
    code = "upload:not-utf8"


class BadArchive(BadUpload):
    code = "upload:bad-archive"


class MissingFile(Refused):
    code = "upload:missing-file"


class TooLarge(Refused):
    code = "upload:too-large"


class UploadsClosed(Refused):
    code = "upload:closed"


class QuotaExceeded(Refused):
    code = "upload:quota"

    def __init__(self, message: str, retry_after: int | None, zh: str = ""):
        super().__init__(message, zh)
        self.retry_after = retry_after


class QueueFull(Refused):
    """Back-pressure: the grading queue is too long right now; nothing was stored."""

    code = "upload:busy"

    def __init__(self, message: str, retry_after: int | None, zh: str = ""):
        super().__init__(message, zh)
        self.retry_after = retry_after


class StorageFull(Refused):
    """The submission storage has no room: ours, not the student's; nothing was stored."""

    code = "upload:storage-full"

    def __init__(self, message: str, retry_after: int | None = 300, zh: str = ""):
        super().__init__(message, zh)
        self.retry_after = retry_after


class Conflict(Refused):
    code = "conflict"
