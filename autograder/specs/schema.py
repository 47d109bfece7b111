"""The grading spec schema: one pydantic model per concept, unknown keys rejected.

A spec is ``grading_specs/<slug>.yaml``. The instructors' guide with every key is
``grading_specs/README.md``; keep the two in step.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
SLUG_ID = r"^[a-z0-9][a-z0-9_-]*$"
FILE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- generators
# A value handed to a student function: generated outside the sandbox from the
# job's secret seed, so a submission cannot hard-code answers.

Dim = int | str | tuple[int, int]


class ArrayGen(Strict):
    """A numpy array. Each entry of ``shape`` is a size, a ``[low, high]`` range drawn per
    case (inclusive), or the name of a dimension from the check's ``dims``."""

    shape: list[Dim]
    dist: Literal["normal", "uniform", "integers"] = "normal"
    mean: float = 0.0
    std: float = 1.0
    low: float = 0.0
    high: float = 1.0
    dtype: Literal["float64", "float32", "int64", "int32"] = "float64"


class IntGen(Strict):
    low: int
    high: int


class FloatGen(Strict):
    low: float
    high: float


class Arg(Strict):
    """Exactly one of: ``array``, ``int``, ``float``, ``value`` (a literal), ``choice``."""

    array: ArrayGen | None = None
    int_: IntGen | None = Field(default=None, alias="int")
    float_: FloatGen | None = Field(default=None, alias="float")
    value: Any = None
    choice: list[Any] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Arg:
        given = [k for k in ("array", "int_", "float_", "choice") if getattr(self, k) is not None]
        if "value" in self.model_fields_set:
            given.append("value")
        if len(given) != 1:
            raise ValueError("an argument needs exactly one of: array, int, float, value, choice")
        return self


# --------------------------------------------------------------------------- checks


class CheckBase(Strict):
    id: Annotated[str, Field(pattern=SLUG_ID)]
    title: str = ""
    points: Annotated[float, Field(gt=0)]
    hidden: bool = Field(
        default=False,
        description="Details shown to students only as the feedback policy allows.",
    )
    hint: str = ""


class FunctionCheck(CheckBase):
    """Call a student function on generated inputs; compare with the reference solution."""

    kind: Literal["function"]
    module: Annotated[str, Field(pattern=IDENT)]
    function: Annotated[str, Field(pattern=IDENT)]
    dims: dict[str, tuple[int, int]] = Field(default_factory=dict)
    args: list[Arg] = Field(default_factory=list)
    kwargs: dict[str, Arg] = Field(default_factory=dict)
    cases: Annotated[int, Field(ge=1, le=100)] = 5
    rtol: Annotated[float, Field(ge=0)] = 1e-6
    atol: Annotated[float, Field(ge=0)] = 1e-8
    check_dtype: bool = Field(
        default=False, description="Require the same dtype kind (float/int/bool) as the reference."
    )
    scoring: Literal["per_case", "all_or_nothing"] = "per_case"


class RegressionData(Strict):
    """Noisy samples of a random function, drawn per job: ``y = f(x) + noise``."""

    generator: Literal["polynomial", "sine"]
    degree: Annotated[int, Field(ge=0, le=12)] = 1
    coef_range: tuple[float, float] = (-2.0, 2.0)
    n_train: Annotated[int, Field(ge=2, le=100_000)] = 50
    n_test: Annotated[int, Field(ge=1, le=100_000)] = 200
    x_range: tuple[float, float] = (-1.0, 1.0)
    noise_std: Annotated[float, Field(ge=0)] = 0.1


class Credit(Strict):
    """A partial-credit curve: full points at or below ``full_at``, none at or above
    ``zero_at``, linear (or log-linear) between. With ``relative_to: reference`` both are
    multiples of the reference solution's error on the same job's data."""

    full_at: Annotated[float, Field(gt=0)]
    zero_at: Annotated[float, Field(gt=0)]
    relative_to: Literal["reference", "absolute"] = "reference"
    scale: Literal["linear", "log"] = "log"

    @model_validator(mode="after")
    def _ordered(self) -> Credit:
        if not self.zero_at > self.full_at:
            raise ValueError("zero_at must be greater than full_at")
        return self


class RegressionCheck(CheckBase):
    """Fit a regression with the student's ``fit`` on a training split, predict a held-out
    split with ``predict``; score the held-out error (the targets never enter the sandbox)."""

    kind: Literal["regression"]
    module: Annotated[str, Field(pattern=IDENT)]
    fit: Annotated[str, Field(pattern=IDENT)]
    predict: Annotated[str, Field(pattern=IDENT)]
    fit_kwargs: dict[str, Arg] = Field(default_factory=dict)
    data: RegressionData
    metric: Literal["mse", "mae"] = "mse"
    credit: Credit


class TrainPhase(Strict):
    """Training inside the sandbox, on the training split only, within a time budget."""

    loop: Literal["grader", "student"] = Field(
        default="grader",
        description="grader: the grader's own loop (optimizer, lr, epochs below); student: "
        "the student's train() function is called.",
    )
    function: Annotated[str, Field(pattern=IDENT)] = "train"
    epochs: Annotated[int, Field(ge=1, le=1000)] = 1
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 64
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: Annotated[float, Field(gt=0, le=10)] = 1e-3
    seed: int = 0
    wall_seconds: Annotated[int, Field(ge=1, le=36000)] = 300


class Constraints(Strict):
    max_params: Annotated[int, Field(ge=1)] | None = None
    max_weights_mb: Annotated[float, Field(gt=0)] | None = None
    forbidden_imports: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]] = Field(
        default_factory=list
    )


class AccuracyCredit(Strict):
    """Linear partial credit between a floor (no points) and a target (full points)."""

    floor: Annotated[float, Field(ge=0, le=1)]
    target: Annotated[float, Field(gt=0, le=1)]

    @model_validator(mode="after")
    def _ordered(self) -> AccuracyCredit:
        if not self.target > self.floor:
            raise ValueError("target must be greater than floor")
        return self


class ClassifierCheck(CheckBase):
    """Train (or take uploaded weights), predict the hidden test split, score accuracy.

    Each phase runs in its own fresh sandbox; artifacts flow forward only: the train
    phase sees the training split and writes weights (safetensors) and per-epoch
    metrics; the predict phase sees the weights and the test *images* and writes
    predictions; labels of the test split never enter a sandbox.
    """

    kind: Literal["classifier"]
    module: Annotated[str, Field(pattern=IDENT)]
    dataset: Literal["mnist"] = "mnist"
    model: Annotated[str, Field(pattern=IDENT)] = Field(
        default="build_model", description="A function of the module returning an nn.Module."
    )
    train: TrainPhase | None = Field(
        default=None, description="Absent: the student uploads trained weights instead."
    )
    weights_files: list[Annotated[str, Field(pattern=FILE_NAME)]] = Field(
        default_factory=list,
        description="Uploaded weights: one of these files (.safetensors, or .pt/.pth state_dict).",
    )
    train_subset: Annotated[int, Field(ge=10)] | None = None
    test_subset: Annotated[int, Field(ge=10)] | None = None
    predict_wall_seconds: Annotated[int, Field(ge=1, le=3600)] = 120
    credit: AccuracyCredit
    constraints: Constraints = Constraints()
    show_misclassified: Annotated[int, Field(ge=0, le=64)] = 8

    @model_validator(mode="after")
    def _weights_or_training(self) -> ClassifierCheck:
        if (self.train is None) == (not self.weights_files):
            raise ValueError("a classifier check needs exactly one of: train, weights_files")
        for name in self.weights_files:
            if not name.endswith((".safetensors", ".pt", ".pth")):
                raise ValueError(f"weights file {name!r} must end in .safetensors, .pt or .pth")
        return self


Check = Annotated[FunctionCheck | RegressionCheck | ClassifierCheck, Field(discriminator="kind")]


class Question(Strict):
    id: Annotated[str, Field(pattern=SLUG_ID)]
    title: str
    checks: Annotated[list[Check], Field(min_length=1)]

    @field_validator("checks")
    @classmethod
    def _unique_check_ids(cls, checks: list[Check]) -> list[Check]:
        seen: set[str] = set()
        for check in checks:
            if check.id in seen:
                raise ValueError(f"check id {check.id!r} is used twice")
            seen.add(check.id)
        return checks


# --------------------------------------------------------------------------- policy


class LatePolicy(Strict):
    grace_minutes: Annotated[int, Field(ge=0)] = 0
    penalty_per_day: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.1, description="Fraction of the maximum deducted per started late day."
    )
    cutoff_days: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="After this many days past the deadline uploads are refused."
    )


class RequiredFile(Strict):
    name: Annotated[str, Field(pattern=FILE_NAME, max_length=100)]
    max_bytes: Annotated[int, Field(gt=0, le=200 * 1024 * 1024)] = 200_000
    required: bool = Field(
        default=True, description="False: accepted but optional (e.g. one of two weight formats)."
    )


class Resources(Strict):
    device: Literal["cpu", "gpu"] = "cpu"
    gpu_memory_mb: Annotated[int, Field(ge=64, le=262144)] = 4096
    cpu_fallback: bool = Field(
        default=False, description="A GPU job may run on a CPU worker when no GPU worker exists."
    )
    memory_mb: Annotated[int, Field(ge=64, le=65536)] = 1024
    wall_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    cpu_seconds: Annotated[int, Field(ge=1, le=36000)] | None = None
    processes: Annotated[int, Field(ge=1, le=4096)] = 64
    threads: Annotated[int, Field(ge=1, le=64)] = 1
    runtime: Literal["numpy", "torch"] = Field(
        default="numpy", description="What the sandbox has ready: numpy-only homework skip torch."
    )


FeedbackLevel = Literal["full", "summary", "score_only", "none"]


class Feedback(Strict):
    """What students see of hidden checks (visible checks always show their messages)."""

    before_deadline: FeedbackLevel = "summary"
    after_deadline: FeedbackLevel = "full"


class Quota(Strict):
    per_day: Annotated[int, Field(ge=1)] | None = None
    total: Annotated[int, Field(ge=1)] | None = None


class Spec(Strict):
    title: str
    title_zh: str = ""
    description: str = ""
    deadline: datetime | None = None
    late_policy: LatePolicy = LatePolicy()
    quota: Quota = Quota()
    files: Annotated[list[RequiredFile], Field(min_length=1)]
    resources: Resources = Resources()
    feedback: Feedback = Feedback()
    counted: Literal["best", "latest"] = Field(
        default="best",
        description="Which of a student's scores counts in the gradebook: the best, or the "
        "latest graded submission's.",
    )
    questions: Annotated[list[Question], Field(min_length=1)]

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("deadline needs a time zone, e.g. 2026-12-01T23:59:00+08:00")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Spec:
        names = [f.name for f in self.files]
        if len(set(names)) != len(names):
            raise ValueError("a file is listed twice in files")
        qids: set[str] = set()
        for q in self.questions:
            if q.id in qids:
                raise ValueError(f"question id {q.id!r} is used twice")
            qids.add(q.id)
        return self

    @property
    def max_points(self) -> float:
        return sum(c.points for q in self.questions for c in q.checks)

    def modules(self) -> set[str]:
        """Python modules a submission provides (its required ``.py`` files)."""
        return {re.sub(r"\.py$", "", f.name) for f in self.files if f.name.endswith(".py")}

    def checks(self) -> list[tuple[Question, FunctionCheck | RegressionCheck | ClassifierCheck]]:
        return [(q, c) for q in self.questions for c in q.checks]
