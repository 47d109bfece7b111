"""Celery tasks: thin, ids in, state from the database, idempotent."""

from __future__ import annotations

from autograder.queueing import GRADE_TASK
from worker import jobs
from worker.celery_app import app


@app.task(name=GRADE_TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def grade_run(run_id: int) -> str:
    return jobs.process(int(run_id))
