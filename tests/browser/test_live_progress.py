"""The submission page while a model trains and after: queue position, phase, the latest
epoch, the live curve, then per-question scores and the final training curve as SVG.

The run's rows are written here the way the worker writes them (state, phase, progress,
outcomes), so the page can be watched through every stage without training a model."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from autograder.models import GradingRun, RunState, User, utcnow
from tests.api.conftest import submission_for
from tests.browser.conftest import STUDENT, screenshot, sign_in

pytestmark = pytest.mark.slow

EPOCHS = [
    {"epoch": 1, "loss": 0.61, "train_accuracy": 0.842, "seconds": 2.1},
    {"epoch": 2, "loss": 0.33, "train_accuracy": 0.905, "seconds": 2.0},
    {"epoch": 3, "loss": 0.27, "train_accuracy": 0.923, "seconds": 2.2},
]


def classifier_outcome() -> dict[str, object]:
    return {
        "question": "q1",
        "check": "mlp",
        "title": "MLP on MNIST <b>bold?</b>",
        "points": 60.0,
        "earned": 54.0,
        "passed": True,
        "message": "test accuracy 95.10% on 10000 hidden images",
        "hidden": False,
        "details": {"accuracy": 0.951, "curve": EPOCHS},
    }


def update_run(db, run_id: int, **fields: object) -> None:  # type: ignore[no-untyped-def]
    db.expire_all()
    run = db.get(GradingRun, run_id)
    for key, value in fields.items():
        setattr(run, key, value)
    db.commit()


def test_the_page_follows_a_training_run(site, db, page):
    from playwright.sync_api import expect

    student = db.scalar(select(User).where(User.name == STUDENT))
    other = db.scalar(select(User).where(User.name != STUDENT)) or student
    earlier = submission_for(db, other, "hw2-1")  # one queued run ahead of ours
    mine = submission_for(db, student, "hw2-1")
    run_id = mine.runs[-1].id
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/submissions/{mine.id}?lang=en")
    expect(page.locator("#state")).to_have_text("queued")
    expect(page.locator("#queue")).to_have_text("1 submission(s) ahead of yours")

    update_run(db, earlier.runs[-1].id, state=RunState.running)
    expect(page.locator("#queue")).to_have_text("next in line")

    progress = {"check": "mlp", "phase": "train", "epochs": EPOCHS[:2]}
    update_run(db, run_id, state=RunState.running, phase="train", progress=progress)
    expect(page.locator("#state")).to_have_text("running · training")
    expect(page.locator("#queue")).to_be_hidden()
    expect(page.locator("#progress")).to_be_visible()
    expect(page.locator("#latest-epoch td")).to_have_text(["2", "0.33", "90.5%", "2"])
    progress["epochs"] = EPOCHS
    update_run(db, run_id, progress=progress)
    expect(page.locator("#latest-epoch td").first).to_have_text("3")
    expect(page.locator("#live-chart svg circle.dot.loss")).to_have_count(3)
    screenshot(page, "20-submission-training")

    update_run(
        db,
        run_id,
        state=RunState.graded,
        phase=None,
        score=54.0,
        raw_score=54.0,
        max_score=100.0,
        outcomes=[classifier_outcome()],
        log="epoch 3: loss 0.27 <script>alert(1)</script>\n",
        finished_at=utcnow(),
    )
    expect(page.locator("#state")).to_have_text("graded")
    expect(page.locator("#score")).to_have_text("54 / 100")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#outcomes tr.question td").nth(2)).to_have_text("54 / 60")
    expect(page.locator("#outcomes tr.check td").nth(1)).to_have_text("MLP on MNIST <b>bold?</b>")
    chart = page.locator("#curve-charts svg")
    expect(chart).to_have_count(1)
    expect(chart.locator("path.series")).to_have_count(2)  # loss and accuracy
    expect(chart.locator("circle.dot.accuracy")).to_have_count(3)
    expect(page.locator("#log")).to_contain_text("<script>alert(1)</script>")
    assert page.locator("#outcomes b, #log script").count() == 0
    screenshot(page, "21-submission-graded-curve")
