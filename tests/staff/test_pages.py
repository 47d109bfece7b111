"""The staff pages' shells: strict CSP, no inline script or style, and scripts that build
DOM nodes and text only (the browser tests run them: tests/browser/test_staff_pages.py)."""

from __future__ import annotations

import re

from api.templating import STATIC_DIR
from tests.api.test_pages import assert_strict_csp
from tests.staff.conftest import SLUG, bearer

STAFF_SCRIPTS = sorted(STATIC_DIR.glob("staff*.js"))


def test_pages_carry_a_strict_policy(staff_client, people, graded):
    submission = graded("s001", 2.0)
    for path in ["/staff", f"/staff/assignments/{SLUG}", f"/staff/submissions/{submission.id}",
                 "/staff/specs"]:  # fmt: skip
        response = staff_client.get(path, headers=bearer(people.ta))
        assert response.status_code == 200, path
        assert_strict_csp(response)
        for src in re.findall(r'<script src="(/static/[^"]+)"', response.text):
            assert staff_client.get(src).status_code == 200, src


def test_unknown_pages_are_404(staff_client, people, assignment):
    assert staff_client.get("/staff/assignments/nope", headers=bearer(people.ta)).status_code == 404
    assert staff_client.get("/staff/submissions/nope", headers=bearer(people.ta)).status_code == 404


def test_specs_page_shows_the_upload_form_to_instructors_only(staff_client, people, assignment):
    ta = staff_client.get("/staff/specs", headers=bearer(people.ta)).text
    instructor = staff_client.get("/staff/specs", headers=bearer(people.instructor)).text
    assert 'id="spec-upload"' not in ta and 'data-can-edit="false"' in ta
    assert 'id="spec-upload"' in instructor and 'data-can-edit="true"' in instructor


def test_scripts_never_parse_html():
    assert len(STAFF_SCRIPTS) >= 7
    for script in STAFF_SCRIPTS:
        text = script.read_text()
        for api in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert api not in text, f"{script.name} uses {api}"
        assert "createElementNS" in text or "createElement" in text or "Staff." in text
