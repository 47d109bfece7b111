"""Reading a multipart upload within the request-wide limits, before any file is looked at.

The body is counted as it arrives (a declared Content-Length over the limit is refused
before reading), and the parser stops at ``max_upload_files`` file parts. Client file
names are passed on as text only; ``autograder.uploads`` decides what they mean.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Message

from api.deps import SettingsDep
from autograder.refusals import BadUpload, TooLarge
from autograder.settings import Settings
from autograder.uploads import UploadPart

FIELD = "files"
# Multipart boundaries and part headers on top of the files' own bytes.
MULTIPART_OVERHEAD_BYTES = 64 * 1024
MAX_TEXT_FIELDS = 8

# For /docs: the route reads the body itself (to apply the limits above), so it
# describes the body here instead of through a parameter.
OPENAPI_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": [FIELD],
                    "properties": {
                        FIELD: {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "The required files (only their base names "
                            "count), or one .zip holding them.",
                        }
                    },
                }
            }
        },
    }
}


async def read_form(request: Request, settings: Settings) -> FormData:
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise BadUpload(
            f"send the files as multipart/form-data in the field {FIELD!r}",
            f"请以 multipart/form-data 格式在字段 {FIELD!r} 中发送文件",
        )
    limit = settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    too_large = TooLarge(
        f"the upload is larger than the limit of {settings.max_upload_bytes} bytes in total",
        f"上传总大小超过了 {settings.max_upload_bytes} 字节的上限",
    )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise too_large
        return message

    limited = Request(request.scope, receive)
    try:
        return await limited.form(
            max_files=settings.max_upload_files,
            max_fields=MAX_TEXT_FIELDS,
            max_part_size=64 * 1024,
        )
    except HTTPException as exc:  # Starlette's word for a multipart it would not parse
        if str(exc.detail).startswith("Too many files"):
            raise TooLarge(
                f"too many files: at most {settings.max_upload_files} per upload",
                f"文件太多：每次上传最多 {settings.max_upload_files} 个",
            ) from exc
        raise BadUpload(
            f"malformed multipart upload: {exc.detail}", f"格式错误的 multipart 上传：{exc.detail}"
        ) from exc


def parts_of(form: FormData) -> list[UploadPart]:
    parts: list[UploadPart] = []
    for key, value in form.multi_items():
        if key != FIELD:
            raise BadUpload(
                f"unexpected form field {key!r}; send files in the field {FIELD!r}",
                f"不需要的表单字段 {key!r}；请在字段 {FIELD!r} 中发送文件",
            )
        if not isinstance(value, UploadFile):
            raise BadUpload(
                f"the field {FIELD!r} must hold files, not text",
                f"字段 {FIELD!r} 中必须是文件，而不是文本",
            )
        parts.append(UploadPart(value.filename or "", value.file))
    return parts


async def upload_parts(request: Request, settings: SettingsDep) -> AsyncIterator[list[UploadPart]]:
    form = await read_form(request, settings)
    try:
        yield parts_of(form)
    finally:
        await form.close()


UploadParts = Annotated[list[UploadPart], Depends(upload_parts)]
