"""The submission page while a model trains and after: queue position, phase, the latest
epoch, the live curve, then per-question scores and the final training curve as SVG.

The run's rows are written here the way the worker writes them (state, phase, progress,
outcomes), so the page can be watched through every stage without training a model."""

from __future__ import annotations

import base64

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
    sent = utcnow()
    earlier = submission_for(db, other, "hw2-1", enqueued_at=sent)  # one queued run ahead
    mine = submission_for(db, student, "hw2-1", enqueued_at=sent)
    run_id = mine.runs[-1].id
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/submissions/{mine.id}?lang=en")
    expect(page.locator("#state")).to_have_text("queued")
    expect(page.locator("#queue")).to_contain_text("1 submission(s) ahead of yours")

    update_run(db, earlier.runs[-1].id, state=RunState.running)
    expect(page.locator("#queue")).to_contain_text("next in line")

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


@pytest.mark.parametrize(
    ("lang", "title", "words"),
    [("en", "Out of memory", "memory limit (256 MB)"), ("zh", "超出内存限制", "内存超过了限制")],
)
def test_a_failure_is_shown_once_in_the_pages_language(site, db, page, lang, title, words):
    from playwright.sync_api import expect

    from autograder.grading.failures import Failure, FailureCode

    student = db.scalar(select(User).where(User.name == STUDENT))
    mine = submission_for(db, student, "hw2-1")
    failure = Failure(code=FailureCode.MEMORY, values={"memory_mb": 256})
    update_run(
        db,
        mine.runs[-1].id,
        state=RunState.failed_student,
        score=0.0,
        raw_score=0.0,
        max_score=100.0,
        outcomes=[],
        failure_kind=failure.code,
        failure_message=failure.message(),
        failure=failure.stored(),
        finished_at=utcnow(),
    )
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/submissions/{mine.id}?lang={lang}")
    expect(page.locator("#failure")).to_be_visible()
    expect(page.locator("#failure-kind")).to_have_text(title)
    expect(page.locator("#failure-message")).to_contain_text(words)
    assert "submission:" not in page.locator("#failure").inner_text()
    heading = page.locator("h1 code")  # a short id to read, the whole one on hover
    expect(heading).to_have_text(mine.id[:8])
    assert heading.get_attribute("title") == mine.id and mine.id not in page.title()


def test_the_live_chart_keeps_sane_axes_and_every_metric(site, db, page):
    """One epoch: "1 of 5", no negative loss, no accuracy above 100%; a GAN's epochs draw
    its discriminator and generator losses (once dropped on the way to the page)."""
    from playwright.sync_api import expect

    student = db.scalar(select(User).where(User.name == STUDENT))
    mine = submission_for(db, student, "hw2-1")
    run_id = mine.runs[-1].id
    one = [{"epoch": 1, "loss": 0.464, "train_accuracy": 0.854, "seconds": 2.0}]
    progress = {"check": "mlp", "phase": "train", "epochs": one, "epochs_total": 5}
    update_run(db, run_id, state=RunState.running, phase="train", progress=progress)
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/submissions/{mine.id}?lang=en")
    expect(page.locator("#latest-epoch td").first).to_have_text("1 of 5")
    chart = page.locator("#live-chart svg")
    expect(chart.locator("circle.dot")).to_have_count(2)
    losses = [float(x) for x in chart.locator("text.tick.loss").all_text_contents()]
    accuracies = [
        float(x.rstrip("%")) for x in chart.locator("text.tick.accuracy").all_text_contents()
    ]
    assert min(losses) >= 0 and min(accuracies) >= 0 and max(accuracies) <= 100, (
        losses,
        accuracies,
    )
    gan = [
        {"epoch": e, "d_loss": 1.2 - 0.1 * e, "g_loss": 0.7 + 0.05 * e, "seconds": 3.0}
        for e in (1, 2, 3)
    ]
    update_run(db, run_id, progress={"check": "gan", "phase": "train", "epochs": gan})
    expect(chart.locator("path.series")).to_have_count(2)
    expect(chart.locator(".legend")).to_contain_text("discriminator loss")
    expect(chart.locator(".legend")).to_contain_text("generator loss")


PIXELS = base64.b64encode(bytes(range(0, 256, 17))).decode("ascii")  # a 4 x 4 grey ramp


def test_a_classifier_result_is_shown_as_tables(site, db, page):
    """Per-class accuracy as bars and the confusion matrix as a shaded table with the
    dataset's class names, not one raw number per line; other details rounded."""
    from playwright.sync_api import expect

    student = db.scalar(select(User).where(User.name == STUDENT))
    mine = submission_for(db, student, "hw2-1")
    outcome = classifier_outcome()
    outcome["details"] = {
        "accuracy": 0.8333333333333334,
        "test_examples": 12,
        "per_class_accuracy": [1.0, 0.75, 0.75],
        "confusion_matrix": [[4, 0, 0], [1, 3, 0], [0, 1, 3]],
        "class_names": ["T-shirt/top", "Trouser", "Pullover"],
        "misclassified": [
            {"index": 7, "predicted": 0, "label": 1, "image": PIXELS, "shape": [4, 4]},
            {"index": 9, "predicted": 2, "label": 1},  # no image (a private split): not drawn
        ],
    }
    update_run(
        db,
        mine.runs[-1].id,
        state=RunState.graded,
        score=50.0,
        raw_score=50.0,
        max_score=60.0,
        outcomes=[outcome],
        finished_at=utcnow(),
    )
    sign_in(page, site.base, STUDENT)
    page.goto(f"{site.base}/submissions/{mine.id}?lang=en")
    bars = page.locator("table.per-class tr")
    expect(bars).to_have_count(4)  # a heading and one row per class
    expect(bars.nth(2)).to_contain_text("Trouser")
    expect(bars.nth(2)).to_contain_text("75%")
    width = page.locator("table.per-class .bar").nth(1).evaluate("e => e.style.width")
    assert width == "75%", width
    matrix = page.locator("table.confusion")
    expect(matrix.locator("td.hit")).to_have_count(3)
    expect(matrix.locator("td.miss")).to_have_count(6)
    expect(matrix.locator("tr").nth(2)).to_contain_text("Trouser")
    share = matrix.locator("td.hit").nth(1).evaluate("e => e.style.getPropertyValue('--share')")
    assert float(share) == 0.75
    gallery = page.locator("figure.misclassified")
    expect(gallery.locator("canvas")).to_have_count(1)
    expect(gallery.locator("li")).to_contain_text("Trouser → T-shirt/top")
    label = gallery.locator("canvas").get_attribute("aria-label")
    assert label == "test image 7: a Trouser, predicted T-shirt/top", label
    drawn = gallery.locator("canvas").evaluate(
        "c => Array.from(c.getContext('2d').getImageData(0, 0, 4, 4).data)"
    )
    assert drawn[0::4] == list(range(0, 256, 17)), drawn  # the grey levels, row by row
    assert drawn[3::4] == [255] * 16
    screenshot(page, "22-submission-classifier-tables")
    raw = page.locator("td.message details pre").first.text_content()
    assert "confusion_matrix" not in raw and "0.8333" in raw and "0.83333" not in raw
