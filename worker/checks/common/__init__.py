"""Pieces every check kind may use, and the only ones a kind shares with another: credit
curves (``credit``), reading the student's sources and weights against a check's
constraints without running them (``constraints``), and the hint a spec adds to a message
that lost points (``hints``). A kind (``worker/checks/<kind>_check.py``) never imports
another kind: what two kinds need lives here (tests/test_layout_rules.py keeps it so)."""
