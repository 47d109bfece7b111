"""The HTML pages: what they list, their Content-Security-Policy, and scripts that only
ever write text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from api.templating import STATIC_DIR
from tests.api.conftest import PASSWORD, sign_in, submission_for

DEADLINE = datetime(2030, 6, 1, 15, 59, tzinfo=UTC)


def assert_strict_csp(response) -> None:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    scripts = re.findall(r"<script[^>]*>", response.text)
    assert all("src=" in tag for tag in scripts), scripts  # no inline scripts
    assert " style=" not in response.text and "<style" not in response.text
    assert not re.search(r"\son[a-z]+=", response.text)  # no inline event handlers


def signed_in(client, make_user, name: str = "alice") -> str:
    make_user(name, password=PASSWORD)
    return sign_in(client, name)


def test_index_lists_assignments(client, make_assignment, make_user):
    make_assignment(deadline=DEADLINE)
    signed_in(client, make_user)
    response = client.get("/?lang=en")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "Test homework" in response.text
    assert "测试作业" in client.get("/?lang=zh").text
    assert 'href="/assignments/hw-test/upload"' in response.text
    assert "2030-06-01 23:59 UTC+0800" in response.text  # 15:59 UTC, in the course's zone
    assert_strict_csp(response)


def test_upload_page_lists_required_files(client, make_assignment, make_user):
    make_assignment(deadline=DEADLINE)
    signed_in(client, make_user)
    response = client.get("/assignments/hw-test/upload")
    assert response.status_code == 200
    html = response.text
    assert re.search(
        r'<code class="file-name">hw.py</code>\s*</td>\s*<td>2.0 KiB \(2000 bytes\)', html
    )
    assert re.search(
        r'<code class="file-name">weights.npy</code>\s*</td>\s*<td>3.9 KiB \(4000 bytes\)', html
    )
    assert 'type="file" multiple' in html and 'id="drop-zone"' in html
    assert 'data-api="/api/v1/assignments/hw-test/submissions"' in html
    assert '<script src="/static/upload.js" defer></script>' in html
    assert_strict_csp(response)


def test_spec_text_is_escaped(client, make_assignment, make_user):
    make_assignment(title="<script>alert(1)</script>", description="<b>bold</b> & more")
    signed_in(client, make_user)
    html = client.get("/assignments/hw-test/upload").text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html


def test_unknown_assignment_page_is_an_html_404(client, make_user):
    signed_in(client, make_user)
    response = client.get("/assignments/nope/upload")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]
    assert "nope" in response.text
    assert_strict_csp(response)


def test_pages_send_anonymous_visitors_to_sign_in(client, make_assignment):
    make_assignment()
    for path in ("/", "/assignments/hw-test/upload", "/submissions/abc123", "/account"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login?next="), path
    response = client.get("/login")
    assert response.status_code == 200 and 'name="csrf_token"' in response.text
    assert_strict_csp(response)


def test_submission_page_polls_the_api(client, make_assignment, make_user, db):
    make_assignment()
    alice, _ = make_user("alice", password=PASSWORD)
    submission = submission_for(db, alice, "hw-test")
    sign_in(client, "alice")
    response = client.get(f"/submissions/{submission.id}")
    assert response.status_code == 200
    assert f'data-api="/api/v1/submissions/{submission.id}"' in response.text
    assert '<script src="/static/submission.js" defer></script>' in response.text
    assert '<script src="/static/chart.js" defer></script>' in response.text
    assert_strict_csp(response)


def test_scripts_are_served_and_never_write_html(client, configured):
    for name in ("common.js", "upload.js", "submission.js", "chart.js", "roster.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    for path in STATIC_DIR.glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (path.name, sink)
    assert "textContent" in (STATIC_DIR / "submission.js").read_text()
    assert "createElementNS" in (STATIC_DIR / "chart.js").read_text()
    assert "X-CSRF-Token" in (STATIC_DIR / "common.js").read_text()


def test_an_unknown_url_is_a_page_for_browsers_and_json_for_programs(client):
    page = client.get("/no/such/page", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "there is no page at /no/such/page" in page.text and "<h1>404" in page.text
    api = client.get("/api/v1/no/such/thing", headers={"Accept": "text/html"})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    plain = client.get("/no/such/page")
    assert plain.status_code == 404 and plain.json() == {"detail": "Not Found"}
