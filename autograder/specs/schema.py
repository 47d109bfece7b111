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
    title_zh: str = Field(default="", description="The title in Chinese (pages in Chinese).")
    points: Annotated[float, Field(gt=0)]
    hidden: bool = Field(
        default=False,
        description="Details shown to students only as the feedback policy allows.",
    )
    hint: str = ""
    hint_zh: str = Field(
        default="", description="The hint in Chinese, shown instead of it on pages in Chinese."
    )


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
    outputs: list[Annotated[str, Field(min_length=1, max_length=60)]] | None = Field(
        default=None,
        description="Names of the returned values, in order (a function returning a tuple), "
        "for the feedback: 'loss: got 2.3, expected 2.1' instead of 'returned value 1: ...'.",
    )


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
    dataset: Annotated[str, Field(pattern=SLUG_ID)] = Field(
        description="A dataset declared by a manifest in the datasets folder: <name>.yaml."
    )
    model: Annotated[str, Field(pattern=IDENT)] = Field(
        default="build_model", description="A function of the module returning an nn.Module."
    )
    framework: Literal["torch", "numpy"] = Field(
        default="torch",
        description="torch: build_model() returns an nn.Module; numpy: it returns an object "
        "with a params dict, loss(x, y) filling grads, and predict(x) (no torch in the box).",
    )
    train: TrainPhase | None = Field(
        default=None, description="Absent: the student uploads trained weights instead."
    )
    weights_files: list[Annotated[str, Field(pattern=FILE_NAME)]] = Field(
        default_factory=list,
        description="Uploaded weights: one of these files (.safetensors, or .pt/.pth state_dict).",
    )
    test_dataset: Annotated[str, Field(pattern=SLUG_ID)] | None = Field(
        default=None,
        description="Score on this dataset's test split instead of ``dataset``'s: a split "
        "the course keeps private (manifest ``private: true``), with the same image shape "
        "and classes. Training still uses ``dataset``'s train split.",
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
        if self.framework == "numpy":
            if any(not name.endswith(".safetensors") for name in self.weights_files):
                raise ValueError("a numpy classifier takes .safetensors weights only")
            if self.train is not None and self.train.optimizer != "sgd":
                raise ValueError("a numpy classifier trains with optimizer: sgd")
        return self


GradientOracle = Literal[
    "linear", "relu", "sigmoid", "tanh", "softmax_cross_entropy", "two_layer_net"
]


class LabelGen(Strict):
    """Integer class labels in ``[0, classes)``; ``shape`` and ``classes`` as in ArrayGen."""

    shape: list[Dim]
    classes: Dim


class TimedCase(Strict):
    """One more case, large, run alone in a student box of its own whose wall clock is
    ``wall_seconds``, enforced from outside (the whole box is killed at it). Gradients
    derived by hand take milliseconds there; finite differences (a forward pass per
    coordinate) take minutes. Each quantity earns its share of the check's points only
    when it also passes here."""

    dims: dict[str, Annotated[int, Field(ge=1, le=65536)]] = Field(
        default_factory=dict, description="A fixed size for every one of the check's dims."
    )
    wall_seconds: Annotated[float, Field(ge=1, le=600)] = Field(
        description="The box's wall clock, its start included."
    )
    input: ArrayGen | None = Field(
        default=None, description="Instead of the check's input generator, for this case."
    )
    params: dict[Annotated[str, Field(pattern=IDENT)], ArrayGen] = Field(
        default_factory=dict,
        description="Instead of some of the check's parameter generators, for this case "
        "(e.g. weights scaled like an initialisation, so that a wide network's scores stay "
        "in the range a real one has).",
    )


class GradientCheck(CheckBase):
    """A hand-written layer's forward and backward, run inside the sandbox on inputs and
    parameters generated here; compared outside with the grader's own gradients (autograd
    in float64, confirmed by central finite differences) by relative error."""

    kind: Literal["gradient"]
    module: Annotated[str, Field(pattern=IDENT)]
    layer: Annotated[str, Field(pattern=IDENT)] = Field(
        description="The class in the student's module, e.g. Linear."
    )
    oracle: GradientOracle = Field(
        description="What the grader computes for comparison; it fixes the interface too."
    )
    dims: dict[str, tuple[int, int]] = Field(default_factory=dict)
    init: dict[Annotated[str, Field(pattern=IDENT)], bool | int | float | str] = Field(
        default_factory=dict,
        description="Keyword arguments of the layer's constructor; a string names one of "
        "the dims (its value drawn for the case).",
    )
    input: ArrayGen
    labels: LabelGen | None = Field(
        default=None, description="Class labels (not differentiated) for the loss oracles."
    )
    params: dict[Annotated[str, Field(pattern=IDENT)], ArrayGen] = Field(default_factory=dict)
    cases: Annotated[int, Field(ge=1, le=50)] = 4
    tolerance: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=1e-6, description="Largest relative error that passes."
    )
    forbidden_imports: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]] = Field(
        default_factory=lambda: ["torch", "jax", "autograd", "tensorflow"]
    )
    timed_case: TimedCase | None = Field(
        default=None,
        description="A large case under a time limit, against gradients computed by "
        "finite differences.",
    )

    @model_validator(mode="after")
    def _timed_dims(self) -> GradientCheck:
        timed = self.timed_case
        if timed is not None and sorted(timed.dims) != sorted(self.dims):
            raise ValueError(
                f"timed_case.dims must give a size to each of the check's dims "
                f"{sorted(self.dims)}, got {sorted(timed.dims)}"
            )
        if timed is not None and not set(timed.params) <= set(self.params):
            raise ValueError(
                f"timed_case.params may only replace the check's params {sorted(self.params)}, "
                f"got {sorted(timed.params)}"
            )
        return self

    @model_validator(mode="after")
    def _fits_oracle(self) -> GradientCheck:
        needs = {
            "linear": ["W", "b"],
            "two_layer_net": ["W1", "b1", "W2", "b2"],
        }.get(self.oracle, [])
        if sorted(self.params) != sorted(needs):
            raise ValueError(
                f"oracle {self.oracle} needs params {needs or 'none'}, got {sorted(self.params)}"
            )
        wants_labels = self.oracle in ("softmax_cross_entropy", "two_layer_net")
        if wants_labels != (self.labels is not None):
            raise ValueError(
                f"oracle {self.oracle} " + ("needs labels" if wants_labels else "takes no labels")
            )
        return self


SequenceTaskName = Literal["zh_numerals", "en_numerals", "reverse", "sort"]


class SequenceTask(Strict):
    """A generated sequence task, drawn afresh per job from its secret seed (the test
    sources are distinct and none of them is in the training split)."""

    name: SequenceTaskName = Field(
        description="zh_numerals: 三百零四 -> 304; en_numerals: three hundred four -> 304; "
        "reverse: 1234 -> 4321; sort: 3141 -> 1134."
    )
    n_train: Annotated[int, Field(ge=10, le=200_000)] = 10_000
    n_test: Annotated[int, Field(ge=10, le=20_000)] = 1000
    min_value: Annotated[int, Field(ge=0, le=99_999_999)] = 0
    max_value: Annotated[int, Field(ge=0, le=99_999_999)] = 99_999
    min_length: Annotated[int, Field(ge=1, le=40)] = 1
    max_length: Annotated[int, Field(ge=1, le=40)] = 8

    @model_validator(mode="after")
    def _enough_sources(self) -> SequenceTask:
        if self.min_value > self.max_value or self.min_length > self.max_length:
            raise ValueError("min_value/min_length must not exceed max_value/max_length")
        if self.name.endswith("_numerals"):
            space = self.max_value - self.min_value + 1
        else:
            space = sum(10**n for n in range(self.min_length, self.max_length + 1))
        if self.n_train + self.n_test > 0.9 * space:
            raise ValueError(
                f"n_train + n_test = {self.n_train + self.n_test} distinct sources do not fit "
                f"in the {space} this task allows (at most 90% of them)"
            )
        return self


class SequenceTrain(TrainPhase):
    """As for a classifier; the grader's loop also clips the gradient norm."""

    clip_grad_norm: Annotated[float, Field(gt=0)] | None = 1.0


class SequenceCheck(CheckBase):
    """Train a sequence model on a generated task, predict the hidden test split's targets
    from its sources, score exact match and token accuracy outside.

    The train phase sees the training pairs only; the predict phase a fresh build_model()
    with the trained weights and the test *sources*; test targets never enter a sandbox.
    """

    kind: Literal["sequence"]
    module: Annotated[str, Field(pattern=IDENT)]
    model: Annotated[str, Field(pattern=IDENT)] = Field(
        default="build_model",
        description="build_model(src_vocab_size, tgt_vocab_size, max_len) -> nn.Module.",
    )
    interface: Literal["seq2seq", "encoder"] = Field(
        default="seq2seq",
        description="seq2seq: forward(src, tgt_in) -> logits (B, T, V), targets end in EOS, "
        "the student's predict function decodes; encoder: forward(src) -> logits (B, S, V), "
        "one output token per source position.",
    )
    task: SequenceTask
    train: SequenceTrain
    predict: Annotated[str, Field(pattern=IDENT)] | None = Field(
        default=None,
        description="predict(model, src, max_len) -> token ids (N, L); required for seq2seq. "
        "None (encoder only): the grader takes the argmax of model(src).",
    )
    max_len_margin: Annotated[int, Field(ge=0, le=100)] = Field(
        default=4,
        description="max_len = the widest source or target (with its EOS) + this margin.",
    )
    predict_wall_seconds: Annotated[int, Field(ge=1, le=3600)] = 120
    metric: Literal["exact_match", "token_accuracy"] = "exact_match"
    credit: AccuracyCredit
    untrained_control: bool = Field(
        default=True,
        description="Also predict with the model untrained (built in a box with no data, "
        "decoded in a box of its own that looks like the trained model's); if that scores "
        "above the floor, the answers do not come from the learned weights: 0 points.",
    )
    constraints: Constraints = Constraints()
    show_wrong: Annotated[int, Field(ge=0, le=64)] = 8

    @model_validator(mode="after")
    def _fits_interface(self) -> SequenceCheck:
        if self.interface == "seq2seq" and self.predict is None:
            raise ValueError("a seq2seq sequence check needs predict (the decoding function)")
        if self.interface == "encoder" and self.task.name.endswith("_numerals"):
            raise ValueError(
                f"task {self.task.name} has targets of another length than their sources: "
                "use interface: seq2seq"
            )
        return self


class GenerativeTrain(Strict):
    """The student's own training loop, run inside the sandbox on the training images only
    (no labels), within ``wall_seconds``; ``options`` reach it in its config dict."""

    function: Annotated[str, Field(pattern=IDENT)] = "train"
    epochs: Annotated[int, Field(ge=1, le=1000)] = 1
    batch_size: Annotated[int, Field(ge=1, le=65536)] = 64
    lr: Annotated[float, Field(gt=0, le=10)] = 1e-3
    seed: int = 0
    wall_seconds: Annotated[int, Field(ge=1, le=36000)] = 300
    options: dict[Annotated[str, Field(pattern=IDENT)], float | int | str | bool] = Field(
        default_factory=dict, description="Extra entries of the config dict (e.g. l1, noise_std)."
    )


class RisingCredit(Strict):
    """Higher is better: no points at or below ``floor``, full at ``target``; ``share`` is
    this metric's part of the check's points."""

    floor: float
    target: float
    share: Annotated[float, Field(ge=0, le=1)]

    @model_validator(mode="after")
    def _ordered(self) -> RisingCredit:
        if not self.target > self.floor:
            raise ValueError("target must be greater than floor")
        return self


class FallingCredit(Strict):
    """Lower is better: full points at or below ``full_at``, none at or above ``zero_at``,
    linear (or log-linear) between; ``share`` is this metric's part of the check's points."""

    full_at: Annotated[float, Field(gt=0)]
    zero_at: Annotated[float, Field(gt=0)]
    scale: Literal["linear", "log"] = "linear"
    share: Annotated[float, Field(ge=0, le=1)] = 1.0

    @model_validator(mode="after")
    def _ordered(self) -> FallingCredit:
        if not self.zero_at > self.full_at:
            raise ValueError("zero_at must be greater than full_at")
        return self


class SamplesCredit(Strict):
    """How the judge's verdict on the samples earns points (shares sum to 1)."""

    confidence: RisingCredit = Field(
        description="Mean top-class probability the judge gives the samples."
    )
    coverage: RisingCredit = Field(
        description="Effective number of digits among the samples / 10 (1: all ten equally)."
    )
    frechet: FallingCredit = Field(
        description="Frechet distance of the judge's features of the samples and real test images."
    )

    @model_validator(mode="after")
    def _shares(self) -> SamplesCredit:
        total = self.confidence.share + self.coverage.share + self.frechet.share
        if abs(total - 1) > 1e-6:
            raise ValueError(f"the shares of confidence, coverage, frechet sum to {total:g}")
        return self


class CopyRule(Strict):
    """When a generated sample counts as a copy of an MNIST image (worker/checks/copies.py):
    in its canonical pose (centred by whole pixels, 2 x 2 pooled, the best of four
    orientations) its nearest MNIST image (training or test) is closer than ``ratio`` times
    the mean distance of its 10 nearest. Copies are left out before the judge scores;
    above ``max_fraction`` copies the check earns nothing."""

    ratio: Annotated[float, Field(ge=0, lt=1)] = 0.7
    max_fraction: Annotated[float, Field(ge=0, lt=1)] = 0.15


class SamplesCheck(CheckBase):
    """A generator trained by the student's loop (train phase, training images only), then
    sampled in a fresh box from noise drawn here from the job's seed (generate phase); the
    samples are judged outside by the project's MNIST classifier (worker/judges/)."""

    kind: Literal["samples"]
    module: Annotated[str, Field(pattern=IDENT)]
    dataset: Annotated[str, Field(pattern=SLUG_ID)] = Field(
        description="A dataset declared by a manifest in the datasets folder: <name>.yaml."
    )
    generator: Annotated[str, Field(pattern=IDENT)] = Field(
        default="build_generator", description="A function returning the generator nn.Module."
    )
    latent_dim: Annotated[int, Field(ge=1, le=1024)]
    train: GenerativeTrain
    train_subset: Annotated[int, Field(ge=10)] | None = None
    samples: Annotated[int, Field(ge=100, le=10000)] = 2000
    generate_wall_seconds: Annotated[int, Field(ge=1, le=3600)] = 120
    range_tolerance: Annotated[float, Field(ge=0, le=1)] = Field(
        default=1e-3, description="How far outside [0, 1] a pixel may lie (float rounding)."
    )
    credit: SamplesCredit
    copies: CopyRule = Field(
        default_factory=CopyRule,
        description="Samples that copy MNIST images earn nothing (worker/checks/copies.py).",
    )
    constraints: Constraints = Constraints()


class SparsityCredit(Strict):
    """The sparse variant: the fraction of ACTIVE code entries (|c| above ``tolerance`` times
    the 99th percentile of |c| over all codes: scale-free) earns ``share`` of the points."""

    tolerance: Annotated[float, Field(gt=0, lt=1)] = 0.05
    full_at: Annotated[float, Field(gt=0, le=1)]
    zero_at: Annotated[float, Field(gt=0, le=1)]
    share: Annotated[float, Field(gt=0, lt=1)]

    @model_validator(mode="after")
    def _ordered(self) -> SparsityCredit:
        if not self.zero_at > self.full_at:
            raise ValueError("zero_at must be greater than full_at")
        return self


class ReconstructionCheck(CheckBase):
    """An auto-encoder trained by the student's loop (train phase); a fresh box encodes
    hidden test images (noisy ones, made here, for ``denoising``) into codes, checked and
    rounded to float16 here; another fresh box decodes ONLY those codes; the mean squared
    error against the clean test images is computed outside."""

    kind: Literal["reconstruction"]
    module: Annotated[str, Field(pattern=IDENT)]
    dataset: Annotated[str, Field(pattern=SLUG_ID)] = Field(
        description="A dataset declared by a manifest in the datasets folder: <name>.yaml."
    )
    model: Annotated[str, Field(pattern=IDENT)] = Field(
        default="build_autoencoder",
        description="A function returning an nn.Module with encode(x) and decode(z).",
    )
    variant: Literal["plain", "denoising", "sparse"] = "plain"
    latent_size: Annotated[int, Field(ge=1, le=1024)]
    noise_std: Annotated[float, Field(gt=0, le=2)] | None = Field(
        default=None, description="denoising: Gaussian noise added to the test images, clipped."
    )
    train: GenerativeTrain
    train_subset: Annotated[int, Field(ge=10)] | None = None
    test_subset: Annotated[int, Field(ge=10, le=10000)] = 2000
    phase_wall_seconds: Annotated[int, Field(ge=1, le=3600)] = 120
    credit: FallingCredit
    sparsity: SparsityCredit | None = None
    range_tolerance: Annotated[float, Field(ge=0, le=1)] = 1e-3
    constraints: Constraints = Constraints()

    @model_validator(mode="after")
    def _variant(self) -> ReconstructionCheck:
        if (self.variant == "denoising") != (self.noise_std is not None):
            raise ValueError("noise_std is needed by (and only by) variant: denoising")
        if (self.variant == "sparse") != (self.sparsity is not None):
            raise ValueError("sparsity is needed by (and only by) variant: sparse")
        want = 1 - self.sparsity.share if self.sparsity else 1.0
        if abs(self.credit.share - want) > 1e-6:
            raise ValueError(f"credit.share must be {want:g} (1 minus sparsity.share)")
        return self


EquivalenceOracle = Literal[
    "rnn_cell",
    "lstm_cell",
    "gru_cell",
    "rnn",
    "lstm",
    "gru",
    "scaled_dot_product_attention",
    "multi_head_attention",
    "transformer_encoder_layer",
]
EdgeCase = Literal["batch_1", "length_1", "fully_masked_row"]
OptionValue = bool | int | float | str


class EquivalenceCheck(CheckBase):
    """A student module (or function) given weights chosen here must match the PyTorch
    built-in named by ``oracle`` on generated inputs, edge cases included.  The interface:
    the same constructor keywords, parameter names and shapes (``load_state_dict(strict=
    True)``) and forward signature and outputs as the built-in, in float64."""

    kind: Literal["equivalence"]
    module: Annotated[str, Field(pattern=IDENT)]
    build: Annotated[str, Field(pattern=IDENT)] = Field(
        description="The class (or, for scaled_dot_product_attention, the function) in the "
        "student's module."
    )
    oracle: EquivalenceOracle
    dims: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="Ranges of the oracle's sizes, drawn per case."
    )
    init: dict[str, OptionValue | list[OptionValue]] = Field(
        default_factory=dict,
        description="Constructor options (e.g. num_layers, bidirectional); a list is cycled "
        "over the cases.",
    )
    inputs: dict[str, OptionValue | list[OptionValue]] = Field(
        default_factory=dict,
        description="How inputs are made (initial_state, mask, self_attention); a list is "
        "cycled over the cases.",
    )
    cases: Annotated[int, Field(ge=1, le=40)] = 6
    edge_cases: list[EdgeCase] = Field(
        default_factory=list, description="Cases added after the random ones."
    )
    weight_scale: Annotated[float, Field(gt=0, le=10)] = 1.0
    rtol: Annotated[float, Field(ge=0)] = 1e-6
    atol: Annotated[float, Field(ge=0)] = 1e-7
    scoring: Literal["per_case", "all_or_nothing"] = "per_case"
    forbidden_names: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]] = Field(
        default_factory=list,
        description="Added to the oracle's own list of built-ins a submission may not use.",
    )
    forbidden_imports: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]*$")]] = Field(
        default_factory=list
    )
    also_scan: list[Annotated[str, Field(pattern=IDENT)]] = Field(
        default_factory=list,
        description="Other submitted modules scanned (whole) for the forbidden names, e.g. a "
        "model file that must use the student's own module rather than the built-in.",
    )

    @model_validator(mode="after")
    def _fits_oracle(self) -> EquivalenceCheck:
        from autograder.specs.equivalence_oracles import (
            EDGE_CASES,
            ORACLE_DIMS,
            ORACLE_INIT,
            ORACLE_INPUTS,
        )

        for key, (lo, hi) in self.dims.items():
            if key not in ORACLE_DIMS[self.oracle]:
                raise ValueError(
                    f"dims: {key!r} is not a size of {self.oracle}; its sizes: "
                    + ", ".join(ORACLE_DIMS[self.oracle])
                )
            if not 1 <= lo <= hi <= 64:
                raise ValueError(f"dims: {key} needs 1 <= low <= high <= 64")
        for field, table in (("init", ORACLE_INIT), ("inputs", ORACLE_INPUTS)):
            allowed = table[self.oracle]
            for key, value in getattr(self, field).items():
                if key not in allowed:
                    raise ValueError(
                        f"{field}: {key!r} is not an option of {self.oracle}; options: "
                        + (", ".join(allowed) or "none")
                    )
                values = value if isinstance(value, list) else [value]
                for v in values:
                    if v not in allowed[key] or type(v) is not type(allowed[key][0]):
                        raise ValueError(
                            f"{field}: {key} = {v!r}; allowed: "
                            + ", ".join(repr(a) for a in allowed[key])
                        )
                if not values:
                    raise ValueError(f"{field}: {key} is an empty list")
        for edge in self.edge_cases:
            if edge not in EDGE_CASES[self.oracle]:
                raise ValueError(
                    f"edge_cases: {edge} does not apply to {self.oracle}; it takes: "
                    + ", ".join(EDGE_CASES[self.oracle])
                )
        return self


# A section heading of the course's scripts: "########### 2. Broadcasting ###########".
DEFAULT_SECTION_MARKER = r"^\s*#{3,}\s*(.*?)\s*#*\s*$"
ENV_NAME = r"^[A-Z_][A-Z0-9_]*$"


class OutputSections(Strict):
    marker: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        default=DEFAULT_SECTION_MARKER,
        description="A regular expression: a printed line it matches starts a section, "
        "named by its first group (or the whole line). Default: lines of three or more '#' "
        "around a title, as the course's scripts print them.",
    )
    weights: dict[Annotated[str, Field(min_length=1)], Annotated[float, Field(gt=0)]] = Field(
        default_factory=dict,
        description="Points of a section relative to the others, by its name (default 1 each).",
    )

    @field_validator("marker")
    @classmethod
    def _compiles(cls, marker: str) -> str:
        try:
            pattern = re.compile(marker)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if pattern.groups > 1:
            raise ValueError("at most one group: the section's name")
        return marker


class OutputCheck(CheckBase):
    """Run the student's whole script, unmodified, as ``__main__``, and compare what it
    prints with what the reference script prints on the same per-job inputs, section by
    section (numbers within a tolerance, whitespace and line breaks ignored)."""

    kind: Literal["output"]
    module: Annotated[str, Field(pattern=IDENT)] = Field(
        description="The script: <module>.py among the spec's files, run as __main__."
    )
    env: dict[Annotated[str, Field(pattern=ENV_NAME)], Arg] = Field(
        default_factory=dict,
        description="Environment variables both scripts get, drawn per job (int, float, "
        "choice or value; no arrays): e.g. a seed or a size the script reads.",
    )
    sections: OutputSections = OutputSections()
    rtol: Annotated[float, Field(ge=0)] = 1e-6
    atol: Annotated[float, Field(ge=0)] = 1e-8
    wall_seconds: Annotated[int, Field(ge=1, le=3600)] = 60
    show_expected: bool = Field(
        default=True,
        description="A differing section shows the reference's line beside the student's.",
    )
    forbidden_imports: list[Annotated[str, Field(pattern=r"^[A-Za-z_][\w.]*$")]] = Field(
        default_factory=list
    )

    @field_validator("env")
    @classmethod
    def _no_arrays(cls, env: dict[str, Arg]) -> dict[str, Arg]:
        for name, arg in env.items():
            if arg.array is not None:
                raise ValueError(f"{name}: an environment variable is a number or a string")
        return env


SCRIPT_PATH = r"^[A-Za-z0-9_][A-Za-z0-9_./-]*$"  # relative; ".." refused by the validator
Scalar = int | float | str | bool


class ScriptInput(Strict):
    """How the script's training loop feeds its model, so the prediction box feeds the
    hidden test images the same way (pixels are first scaled to 0..1, as ``ToTensor``)."""

    shape: Literal["image", "flat"] = Field(
        default="image",
        description="image: N x 1 x H x W; flat: N x (H*W), as a loop that does "
        "images.reshape(-1, 28*28) gives an MLP.",
    )
    mean: float = Field(default=0.0, description="Subtracted after scaling (Normalize's mean).")
    std: Annotated[float, Field(gt=0)] = Field(
        default=1.0, description="Divided by after that (Normalize's std)."
    )


class ScriptCheck(CheckBase):
    """Run the student's whole training script, unmodified, as ``__main__`` in a training
    box where torchvision's class of the dataset works offline (its "test" split a
    labelled slice of the training split: the hidden test split never enters), then score
    the checkpoint it saved on the hidden test split in a separate prediction box that
    loads only the script's imports, classes and functions (its training code never runs
    again)."""

    kind: Literal["script"]
    module: Annotated[str, Field(pattern=IDENT)] = Field(
        description="The script: <module>.py among the spec's files, run as __main__."
    )
    dataset: Annotated[str, Field(pattern=SLUG_ID)] = Field(
        description="A declared dataset whose manifest names torchvision's folder for it "
        "(source.torchvision_dir: MNIST, FashionMNIST): the class the script uses."
    )
    checkpoint: Annotated[str, Field(pattern=SCRIPT_PATH, max_length=200)] = Field(
        description="Where the script saves its model's state_dict (torch.save), relative "
        "to the folder it runs in, e.g. checkpoints/dnn.pth."
    )
    model: Annotated[str, Field(pattern=IDENT)] = Field(
        description="The script's model class (an nn.Module), e.g. MLP_model."
    )
    model_args: list[Scalar] = Field(
        default_factory=list, description="Positional arguments the class is built with."
    )
    model_kwargs: dict[Annotated[str, Field(pattern=IDENT)], Scalar] = Field(
        default_factory=dict, description="Keyword arguments the class is built with."
    )
    input: ScriptInput = ScriptInput()
    train_subset: Annotated[int, Field(ge=10)] | None = Field(
        default=None,
        description="Training images the script's training split holds (default: all but "
        "the validation slice).",
    )
    validation_size: Annotated[int, Field(ge=10, le=100_000)] = Field(
        default=10_000,
        description="Labelled training images served as the script's test split (its own "
        "printed test accuracy is measured on them).",
    )
    wall_seconds: Annotated[int, Field(ge=1, le=36000)] = Field(
        default=600, description="The training box's time budget."
    )
    predict_wall_seconds: Annotated[int, Field(ge=1, le=3600)] = 120
    test_subset: Annotated[int, Field(ge=10)] | None = None
    epoch_pattern: Annotated[str, Field(min_length=1, max_length=500)] | None = Field(
        default=None,
        description="A regular expression a printed line of an epoch matches, with named "
        "groups epoch and any of loss, train_accuracy, test_accuracy (default: lines like "
        "'Epoch: 1/5, Train Loss is: 0.31, ... Test Accuracy is: 0.95').",
    )
    credit: AccuracyCredit
    constraints: Constraints = Constraints()
    show_misclassified: Annotated[int, Field(ge=0, le=64)] = 8

    @field_validator("checkpoint")
    @classmethod
    def _inside(cls, path: str) -> str:
        if ".." in path.split("/") or path.endswith("/"):
            raise ValueError("a file's path inside the folder the script runs in (no '..')")
        return path

    @field_validator("epoch_pattern")
    @classmethod
    def _pattern(cls, pattern: str | None) -> str | None:
        if pattern is None:
            return None
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"not a regular expression: {exc}") from None
        if "epoch" not in compiled.groupindex:
            raise ValueError("needs a named group (?P<epoch>...)")
        return pattern


Check = Annotated[
    FunctionCheck
    | RegressionCheck
    | ClassifierCheck
    | GradientCheck
    | SequenceCheck
    | SamplesCheck
    | ReconstructionCheck
    | EquivalenceCheck
    | OutputCheck
    | ScriptCheck,
    Field(discriminator="kind"),
]


class Question(Strict):
    id: Annotated[str, Field(pattern=SLUG_ID)]
    title: str
    title_zh: str = Field(default="", description="The title in Chinese (pages in Chinese).")
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
        default="numpy",
        description="The call boxes' Python: numpy-only homework get one without torch.",
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
    description_zh: str = Field(
        default="", description="The description in Chinese (pages in Chinese)."
    )
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
    supersede_queued: bool = Field(
        default=False,
        description="A newer upload of a student supersedes that student's uploads still "
        "queued (not yet running) for this assignment: they are never graded and not "
        "charged to the quota.",
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
        cids: dict[str, str] = {}
        for q in self.questions:
            if q.id in qids:
                raise ValueError(f"question id {q.id!r} is used twice")
            qids.add(q.id)
            for c in q.checks:
                # Unique in the whole spec: a phased check's sandboxes are named by it.
                if c.id in cids and cids[c.id] != q.id:
                    raise ValueError(
                        f"check id {c.id!r} is used in questions {cids[c.id]!r} and {q.id!r}; "
                        "check ids must be unique in the whole spec"
                    )
                cids[c.id] = q.id
        return self

    @property
    def max_points(self) -> float:
        return sum(c.points for q in self.questions for c in q.checks)

    def modules(self) -> set[str]:
        """Python modules a submission provides (its required ``.py`` files)."""
        return {re.sub(r"\.py$", "", f.name) for f in self.files if f.name.endswith(".py")}

    def checks(
        self,
    ) -> list[
        tuple[
            Question,
            FunctionCheck
            | RegressionCheck
            | ClassifierCheck
            | GradientCheck
            | SequenceCheck
            | SamplesCheck
            | ReconstructionCheck
            | EquivalenceCheck
            | OutputCheck
            | ScriptCheck,
        ]
    ]:
        return [(q, c) for q in self.questions for c in q.checks]
