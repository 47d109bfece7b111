"""Zip uploads: nested folders allowed, only required basenames taken; traversal, bombs,
lying headers, encryption, symlinks and corrupt archives refused."""

from __future__ import annotations

import io
import stat
import struct
import zipfile

from tests.api.conftest import HW, WEIGHTS, auth

URL = "/api/v1/assignments/hw-test/submissions"


def zip_of(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def send_zip(client, token: str, data: bytes, name: str = "sub.zip"):  # type: ignore[no-untyped-def]
    return client.post(URL, files=[("files", (name, data, "application/zip"))], headers=auth(token))


def patch_headers(data: bytes, offset_in_header: int, fmt: str, value: int) -> bytes:
    r"""Overwrite one field in every local (PK\3\4) and central (PK\1\2) header."""
    raw = bytearray(data)
    central_offsets = {b"PK\x03\x04": offset_in_header, b"PK\x01\x02": offset_in_header + 2}
    for signature, field in central_offsets.items():
        start = 0
        while (at := raw.find(signature, start)) >= 0:
            struct.pack_into(fmt, raw, at + field, value)
            start = at + 4
    return bytes(raw)


def test_nested_members_are_taken_by_basename(client, db, make_assignment, make_user):
    from autograder.models import Submission

    make_assignment()
    _, token = make_user()
    data = zip_of({"a/b/hw.py": HW, "weights.npy": WEIGHTS, "notes/README.md": b"x", "d/": b""})
    response = send_zip(client, token, data)
    assert response.status_code == 202, response.text
    assert [f["name"] for f in db.get(Submission, response.json()["id"]).files] == [
        "hw.py",
        "weights.npy",
    ]


def test_path_traversal_member_refuses_the_archive(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    data = zip_of({"hw.py": HW, "weights.npy": WEIGHTS, "../../etc/x.py": b"evil = 1\n"})
    response = send_zip(client, token, data)
    assert response.status_code == 400
    assert response.json()["code"] == "upload:bad-archive"
    assert "../../etc/x.py" in response.json()["detail"] and "unsafe" in response.json()["detail"]


def test_absolute_member_refuses_the_archive(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    response = send_zip(client, token, zip_of({"/etc/hw.py": HW, "weights.npy": WEIGHTS}))
    assert response.status_code == 400 and "/etc/hw.py" in response.json()["detail"]


def test_zip_bomb_is_refused_while_reading(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    bomb = zip_of({"hw.py": b"#" * 50_000_000, "weights.npy": WEIGHTS})
    assert len(bomb) < 100_000
    response = send_zip(client, token, bomb)
    assert response.status_code == 413, response.text
    assert "'hw.py'" in response.json()["detail"] and "2000" in response.json()["detail"]


def test_header_claiming_a_small_size_is_not_trusted(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    big = zip_of({"hw.py": b"#" * 1_000_000, "weights.npy": WEIGHTS})
    # Claim 100 bytes uncompressed for every member (field at offset 22 of a local header).
    lying = patch_headers(big, 22, "<I", 100)
    response = send_zip(client, token, lying)
    assert response.status_code in (400, 413), response.text
    assert "hw.py" in response.json()["detail"] or "zip" in response.json()["detail"]


def test_ignored_members_are_never_decompressed(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    data = zip_of({"hw.py": HW, "weights.npy": WEIGHTS, "data/huge.bin": b"\0" * 50_000_000})
    assert send_zip(client, token, data).status_code == 202


def test_encrypted_archive_is_refused(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    # Set the "encrypted" flag (bit 0 of the flags at offset 6 of a local header).
    data = patch_headers(zip_of({"hw.py": HW, "weights.npy": WEIGHTS}), 6, "<H", 0x1)
    response = send_zip(client, token, data)
    assert response.status_code == 400 and "encrypted" in response.json()["detail"]


def test_corrupt_archive_is_refused(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    response = send_zip(client, token, b"PK\x03\x04 this is not really a zip")
    assert response.status_code == 400
    assert "'sub.zip'" in response.json()["detail"] and "zip" in response.json()["detail"]


def test_symlink_member_is_not_a_file(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("hw.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("weights.npy", WEIGHTS)
    response = send_zip(client, token, buffer.getvalue())
    assert response.status_code == 422 and "'hw.py'" in response.json()["detail"]


def test_same_file_twice_in_archive_is_refused(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    data = zip_of({"a/hw.py": HW, "b/hw.py": HW, "weights.npy": WEIGHTS})
    response = send_zip(client, token, data)
    assert response.status_code == 400
    assert "a/hw.py" in response.json()["detail"] and "b/hw.py" in response.json()["detail"]


def test_non_utf8_python_in_archive_is_refused(client, make_assignment, make_user):
    make_assignment()
    _, token = make_user()
    data = zip_of({"hw.py": "x = '你好'\n".encode("gbk"), "weights.npy": WEIGHTS})
    response = send_zip(client, token, data)
    assert response.status_code == 400 and "UTF-8" in response.json()["detail"]
