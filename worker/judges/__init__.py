"""Trusted classifiers the grader uses to judge generated images (numpy only)."""
