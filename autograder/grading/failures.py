"""Why a grading run failed, as one typed value shared by the worker, the API, the CLI and
the pages.

Every failure has a code (``FailureCode``, a StrEnum: the text stored in
``grading_runs.failure_kind``) whose prefix says whose failure it is (``FailureKind``):

* ``submission:*`` -- the **student's**: their program broke one of the box's limits, ended
  early, could not be imported. Graded (a failed run counts like any other), with a message
  that tells them what to fix.
* ``spec:*`` -- the **instructor's**: the spec is broken, or the reference solution is
  missing or fails on the inputs the spec draws. Not retried (it would fail the same way),
  never charged to the student, shown to staff with the details.
* ``infra:*`` -- **ours**: no sandbox, a box killed from outside, a lost worker, a lost
  file. Retried with back-off while attempts are left, never charged.

Messages are rendered from the code and its ``values`` through one catalogue (``MESSAGES``,
English and Chinese); a failure whose words come from elsewhere (an exception's text, the
student's own traceback) carries them as ``detail``.
"""

from __future__ import annotations

import enum
import string
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class FailureKind(enum.StrEnum):
    student = "student"
    spec = "spec"
    infra = "infra"


_KIND_OF_PREFIX = {
    "submission": FailureKind.student,
    "spec": FailureKind.spec,
    "infra": FailureKind.infra,
}


class FailureCode(enum.StrEnum):
    # The student's program.
    MISSING_FILE = "submission:missing-file"
    IMPORT_ERROR = "submission:import-error"
    TIMEOUT = "submission:timeout"
    MEMORY = "submission:memory"
    PROCESSES = "submission:processes"
    OUTPUT = "submission:output"
    EXITED_EARLY = "submission:exited-early"
    # The instructor's spec or reference solution.
    SPEC_INVALID = "spec:invalid"
    SPEC_IO = "spec:io"
    SPEC_YAML = "spec:yaml"
    SPEC_BAD_SLUG = "spec:bad-slug"
    SPEC_BAD_VALUE = "spec:bad-value"
    SPEC_DUPLICATE_KEY = "spec:duplicate-key"
    SPEC_MISSING_KEY = "spec:missing-key"
    SPEC_UNKNOWN_KEY = "spec:unknown-key"
    SPEC_UNKNOWN_KIND = "spec:unknown-kind"
    SPEC_UNKNOWN_FILE = "spec:unknown-file"
    SPEC_UNKNOWN_MODULE = "spec:unknown-module"
    SPEC_UNKNOWN_DATASET = "spec:unknown-dataset"
    SPEC_BUNDLE_INCOMPLETE = "spec:bundle-incomplete"
    REFERENCE_FAILED = "spec:reference-failed"
    REFERENCE_MISSING = "spec:reference-missing"
    # Ours.
    INTERNAL = "infra:internal"
    SCRATCH_FULL = "infra:scratch-full"
    SANDBOX_UNAVAILABLE = "infra:sandbox-unavailable"
    BOX_KILLED = "infra:box-killed"
    WORKER_LOST = "infra:worker-lost"
    FILE_LOST = "infra:file-lost"
    NO_GPU = "infra:no-gpu"
    NO_CORES = "infra:no-cores"
    DATASET_UNAVAILABLE = "infra:dataset-unavailable"
    JUDGE_UNAVAILABLE = "infra:judge-unavailable"

    @property
    def kind(self) -> FailureKind:
        return _KIND_OF_PREFIX[self.value.partition(":")[0]]

    @property
    def retried(self) -> bool:
        """Is a run that failed so given back to the queue (while attempts are left)?"""
        return self.kind is FailureKind.infra


# Each code in a few words, for a heading (the student's page shows it above the message).
TITLES: dict[FailureCode, dict[str, str]] = {
    FailureCode.MISSING_FILE: {"en": "A required file is missing", "zh": "缺少必需的文件"},
    FailureCode.IMPORT_ERROR: {"en": "Your code could not be imported", "zh": "你的代码无法导入"},
    FailureCode.TIMEOUT: {"en": "Out of time", "zh": "超出时间限制"},
    FailureCode.MEMORY: {"en": "Out of memory", "zh": "超出内存限制"},
    FailureCode.PROCESSES: {"en": "Too many processes or threads", "zh": "进程或线程过多"},
    FailureCode.OUTPUT: {"en": "Too much output", "zh": "输出过多"},
    FailureCode.EXITED_EARLY: {"en": "Your program ended early", "zh": "程序提前结束"},
    FailureCode.SPEC_INVALID: {"en": "The spec is not valid", "zh": "评分规范无效"},
    FailureCode.SPEC_IO: {"en": "The spec cannot be read", "zh": "无法读取评分规范"},
    FailureCode.SPEC_YAML: {"en": "The spec is not valid YAML", "zh": "评分规范不是有效的 YAML"},
    FailureCode.SPEC_BAD_SLUG: {"en": "A bad assignment name", "zh": "作业名称无效"},
    FailureCode.SPEC_BAD_VALUE: {"en": "A bad value in the spec", "zh": "评分规范中的值无效"},
    FailureCode.SPEC_DUPLICATE_KEY: {"en": "A key given twice", "zh": "键重复"},
    FailureCode.SPEC_MISSING_KEY: {"en": "A required key is missing", "zh": "缺少必需的键"},
    FailureCode.SPEC_UNKNOWN_KEY: {"en": "An unknown key", "zh": "未知的键"},
    FailureCode.SPEC_UNKNOWN_KIND: {"en": "An unknown check kind", "zh": "未知的检查类型"},
    FailureCode.SPEC_UNKNOWN_FILE: {"en": "An unknown file", "zh": "未知的文件"},
    FailureCode.SPEC_UNKNOWN_MODULE: {"en": "An unknown module", "zh": "未知的模块"},
    FailureCode.SPEC_UNKNOWN_DATASET: {"en": "An unknown dataset", "zh": "未知的数据集"},
    FailureCode.SPEC_BUNDLE_INCOMPLETE: {
        "en": "The reference solution or starter is incomplete",
        "zh": "参考答案或起始代码不完整",
    },
    FailureCode.REFERENCE_FAILED: {"en": "The reference solution failed", "zh": "参考答案运行失败"},
    FailureCode.REFERENCE_MISSING: {
        "en": "The reference solution is missing",
        "zh": "缺少参考答案",
    },
    FailureCode.INTERNAL: {"en": "An internal error", "zh": "内部错误"},
    FailureCode.SCRATCH_FULL: {"en": "The job scratch disk is full", "zh": "任务临时磁盘已满"},
    FailureCode.SANDBOX_UNAVAILABLE: {"en": "No sandbox", "zh": "沙箱不可用"},
    FailureCode.BOX_KILLED: {"en": "A sandbox was killed", "zh": "沙箱被终止"},
    FailureCode.WORKER_LOST: {"en": "A worker stopped", "zh": "评分进程停止"},
    FailureCode.FILE_LOST: {"en": "A stored file is lost", "zh": "存储的文件丢失"},
    FailureCode.NO_GPU: {"en": "No GPU", "zh": "没有 GPU"},
    FailureCode.NO_CORES: {"en": "No free cores", "zh": "没有空闲的 CPU 核"},
    FailureCode.DATASET_UNAVAILABLE: {"en": "A dataset is missing", "zh": "数据集不可用"},
    FailureCode.JUDGE_UNAVAILABLE: {"en": "The judge model is missing", "zh": "评判模型不可用"},
}
# What a student is told of a failure that is not theirs.
NOT_YOURS_TITLE = {"en": "A problem of the grading system", "zh": "评分系统的问题"}

# One catalogue: each code's words, in English and Chinese, formatted with the failure's
# values. A code without an entry is rendered from its detail alone.
MESSAGES: dict[FailureCode, dict[str, str]] = {
    FailureCode.MISSING_FILE: {
        "en": "missing required file(s): {files}",
        "zh": "缺少必需的文件：{files}",
    },
    FailureCode.TIMEOUT: {
        "en": "your program ran longer than the time limit ({seconds} s) and was stopped; "
        "checks that had not finished earn nothing",
        "zh": "你的程序运行超过了时间限制（{seconds} 秒），已被终止；未完成的检查不得分",
    },
    FailureCode.MEMORY: {
        "en": "your program used more than the memory limit ({memory_mb} MB) and was stopped",
        "zh": "你的程序使用的内存超过了限制（{memory_mb} MB），已被终止",
    },
    FailureCode.PROCESSES: {
        "en": "your program tried to start more than {processes} processes or threads and "
        "was stopped; do not fork or start threads in a loop",
        "zh": "你的程序试图启动超过 {processes} 个进程或线程，已被终止；不要在循环中创建进程或线程",
    },
    FailureCode.OUTPUT: {
        "en": "your program printed too much output",
        "zh": "你的程序输出的内容太多",
    },
    FailureCode.EXITED_EARLY: {
        "en": "your program ended (exit code {exit_code}) before the grader had run all "
        "checks; do not call exit() or quit() in your module, and do not end the process",
        "zh": "你的程序在评分器运行完所有检查之前就结束了（退出码 {exit_code}）；"
        "不要在模块中调用 exit() 或 quit()，也不要结束进程",
    },
    FailureCode.REFERENCE_FAILED: {
        "en": "the reference solution failed: {detail}",
        "zh": "参考答案运行失败：{detail}",
    },
    FailureCode.REFERENCE_MISSING: {
        "en": "reference solution in {folder} lacks required files",
        "zh": "参考答案目录 {folder} 缺少必需的文件",
    },
    FailureCode.WORKER_LOST: {
        "en": "the worker grading this submission stopped; it is retried",
        "zh": "正在评分的工作进程停止了；将重新评分",
    },
    FailureCode.SCRATCH_FULL: {
        "en": "no space left in the job scratch folder {folder}: {detail}",
        "zh": "任务临时目录 {folder} 没有剩余空间：{detail}",
    },
    FailureCode.FILE_LOST: {
        "en": "stored file {name} is missing",
        "zh": "存储的文件 {name} 丢失",
    },
    FailureCode.NO_GPU: {
        "en": "a GPU job reached a worker without GPUs",
        "zh": "需要 GPU 的任务被分配到了没有 GPU 的工作进程",
    },
}
# A limit that ended one phase of a phased check (training, prediction, ...): the
# failure's values name the phase.
PHASE_MESSAGES: dict[FailureCode, dict[str, str]] = {
    FailureCode.TIMEOUT: {
        "en": "{phase} did not finish within its time budget of {seconds:g} s and was stopped",
        "zh": "{phase}未能在规定时间（{seconds:g} 秒）内完成，已被终止",
    },
    FailureCode.MEMORY: {
        "en": "{phase} used more than the memory limit ({memory_mb} MB) and was stopped",
        "zh": "{phase}使用的内存超过了限制（{memory_mb} MB），已被终止",
    },
    FailureCode.EXITED_EARLY: {
        "en": "{phase} ended (exit code {exit_code}) before it finished its work",
        "zh": "{phase}在完成工作之前就结束了（退出码 {exit_code}）",
    },
}
PHASE_NAMES_ZH = {"training": "训练", "prediction": "预测"}
LANGUAGES = ("en", "zh")

Value = str | int | float | bool | None
DETAIL_CAP = 4000


class Failure(BaseModel):
    """A failure: its code, the values its message is made of, and words from elsewhere
    (``detail``: an exception's text, a student's traceback) where the catalogue has none."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: FailureCode
    values: dict[str, Value] = Field(default_factory=dict)
    detail: str = ""

    @property
    def kind(self) -> FailureKind:
        return self.code.kind

    def _templates(self) -> dict[str, str] | None:
        """The catalogue's entry for this failure, when its values fill it (a failure read
        back from a run stored before values were kept has none: its detail is its text)."""
        found = (PHASE_MESSAGES if "phase" in self.values else MESSAGES).get(self.code)
        if found is None:
            return None
        names = {n for _, n, _, _ in string.Formatter().parse(found["en"]) if n}
        return found if names <= {"detail", *self.values} else None

    def message(self, language: str = "en") -> str:
        template = (self._templates() or {}).get(language)
        if template is None:
            return self.detail
        values = {"detail": self.detail, **self.values}
        if language == "zh" and isinstance(values.get("phase"), str):
            # The phase's own Chinese name where the check gave it (phase_zh), else a known one.
            named = values.get("phase_zh") or PHASE_NAMES_ZH.get(str(values["phase"]))
            values["phase"] = named or values["phase"]
        return template.format(**values)

    def titles(self) -> dict[str, str]:
        """The code in a few words, in every language."""
        return dict(TITLES[self.code])

    def messages(self) -> dict[str, str]:
        """The message in every language of the catalogue (one entry when it has none)."""
        if self._templates() is None:
            return {"en": self.detail}
        return {language: self.message(language) for language in LANGUAGES}

    def stored(self) -> dict[str, Any]:
        """What a run keeps in its ``failure`` column (a detail is capped like the
        message column's)."""
        data = self.model_dump(mode="json")
        data["detail"] = data["detail"][:DETAIL_CAP]
        return data

    @classmethod
    def read(
        cls, whole: dict[str, Any] | None, code: str | None, message: str | None
    ) -> Failure | None:
        """A run's failure read back, validated (``ValueError`` when it is not one): from
        its ``failure`` column, or, for a run stored before it existed, from its code and
        English message (which come back as the detail). None when the run has none."""
        if whole:
            return cls.model_validate(whole)
        if not code or code not in FailureCode._value2member_map_:
            if code and ":" in code:
                raise ValueError(f"unknown failure code {code!r}")
            return None  # no failure, or a state's note (a superseded run's)
        return cls(code=FailureCode(code), detail=message or "")


class GradingError(Exception):
    """A run that cannot be graded, with the failure that says why; ``failure.kind`` decides
    what happens to it (``worker/jobs.py``): infra is retried, spec ends it at once."""

    def __init__(self, code: FailureCode, detail: str = "", **values: Value):
        self.failure = Failure(code=code, values=values, detail=detail)
        super().__init__(self.failure.message())

    @property
    def code(self) -> FailureCode:
        return self.failure.code

    @property
    def kind(self) -> FailureKind:
        return self.failure.kind
