"""The HTML pages: what they list, their Content-Security-Policy, and scripts that only
ever write text."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from api.templating import STATIC_DIR

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


def test_index_lists_assignments(client, make_assignment):
    make_assignment(deadline=DEADLINE)
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "Test homework" in response.text and "测试作业" in response.text
    assert 'href="/assignments/hw-test/upload"' in response.text
    assert "2030-06-01 15:59" in response.text
    assert_strict_csp(response)


def test_upload_page_lists_required_files(client, make_assignment):
    make_assignment(deadline=DEADLINE)
    response = client.get("/assignments/hw-test/upload")
    assert response.status_code == 200
    html = response.text
    assert re.search(
        r'<code class="file-name">hw.py</code>\s*</td>\s*<td>2.0 KiB \(2000 bytes\)', html
    )
    assert re.search(
        r'<code class="file-name">weights.npy</code>\s*</td>\s*<td>3.9 KiB \(4000 bytes\)', html
    )
    assert 'type="password"' in html and 'type="file" multiple' in html
    assert 'data-api="/api/v1/assignments/hw-test/submissions"' in html
    assert '<script src="/static/upload.js" defer></script>' in html
    assert_strict_csp(response)


def test_spec_text_is_escaped(client, make_assignment):
    make_assignment(title="<script>alert(1)</script>", description="<b>bold</b> & more")
    html = client.get("/assignments/hw-test/upload").text
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in html


def test_unknown_assignment_page_is_an_html_404(client, configured):
    response = client.get("/assignments/nope/upload")
    assert response.status_code == 404 and "text/html" in response.headers["content-type"]
    assert "nope" in response.text
    assert_strict_csp(response)


def test_submission_page_polls_the_api(client, configured):
    response = client.get("/submissions/abc123")
    assert response.status_code == 200
    assert 'data-api="/api/v1/submissions/abc123"' in response.text
    assert '<script src="/static/submission.js" defer></script>' in response.text
    assert_strict_csp(response)


def test_scripts_are_served_and_never_write_html(client, configured):
    for name in ("common.js", "upload.js", "submission.js"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200 and "javascript" in response.headers["content-type"]
    for path in STATIC_DIR.glob("*.js"):
        source = path.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (path.name, sink)
    assert "textContent" in (STATIC_DIR / "submission.js").read_text()
    assert "sessionStorage" in (STATIC_DIR / "common.js").read_text()
