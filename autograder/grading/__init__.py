"""Grading's shared contract: what the worker hands back and the API, CLI and pages read."""
