"""The README's Configuration section names every setting (an operator reads it, not
autograder/settings.py), and names none that does not exist."""

from __future__ import annotations

import re

from autograder.settings import PROJECT_ROOT, Settings


def configuration_section() -> str:
    readme = (PROJECT_ROOT / "README.md").read_text()
    return readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]


def test_every_setting_is_in_the_configuration_table():
    section = configuration_section()
    missing = [
        f"AUTOGRADER_{name.upper()}"
        for name in Settings.model_fields
        if f"`AUTOGRADER_{name.upper()}`" not in section
    ]
    assert not missing, f"README.md's Configuration section lacks {missing}"


def test_the_table_names_no_setting_that_does_not_exist():
    known = {f"AUTOGRADER_{name.upper()}" for name in Settings.model_fields}
    named = set(re.findall(r"`(AUTOGRADER_[A-Z0-9_]+)`", configuration_section()))
    assert named <= known, sorted(named - known)
