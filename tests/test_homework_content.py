"""Fast checks of the course content: specs, reference solutions, starters, READMEs and the
independently written test submissions.  No sandbox, no database, no services.

Signatures are compared on the source (ast), so homework whose code needs torch is checked
without importing it; numpy-only modules are also imported and called here.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from autograder.specs.loader import load_spec_file
from autograder.specs.schema import FunctionCheck, RegressionCheck

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "grading_specs"
REFERENCE = ROOT / "reference_solutions"
STARTERS = ROOT / "starters"
SUBMISSIONS = ROOT / "grading_specs" / "samples"

SPEC_PATHS = sorted(SPECS.glob("*.yaml"))
SLUGS = [p.stem for p in SPEC_PATHS]
# Homework written as numpy-only modules whose starters consist of stubs alone.
NUMPY_HOMEWORK = ["hw1-1", "hw1-2", "hw1-3", "hw2-3"]


def _spec(slug: str):
    return load_spec_file(SPECS / f"{slug}.yaml").spec


def _functions_named(slug: str) -> dict[str, set[str]]:
    """module -> the function names the spec's checks call."""
    named: dict[str, set[str]] = {}
    for _q, check in _spec(slug).checks():
        if isinstance(check, FunctionCheck):
            named.setdefault(check.module, set()).add(check.function)
        elif isinstance(check, RegressionCheck):
            named.setdefault(check.module, set()).update({check.fit, check.predict})
        elif check.kind in ("samples", "reconstruction"):
            factory = check.generator if check.kind == "samples" else check.model
            named.setdefault(check.module, set()).update({factory, check.train.function})
        elif check.kind == "sequence":
            names = {check.model} | ({check.predict} if check.predict else set())
            if check.train.loop == "student":
                names.add(check.train.function)
            named.setdefault(check.module, set()).update(names)
    return named


def _top_level_functions(path: Path) -> dict[str, ast.FunctionDef]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}


def _signature(fn: ast.FunctionDef) -> tuple:
    """Parameter names, kinds and defaults (annotations ignored)."""
    a = fn.args
    positional = [p.arg for p in a.posonlyargs + a.args]
    defaults = [ast.unparse(d) for d in a.defaults]
    kwonly = [
        (p.arg, ast.unparse(d) if d is not None else None)
        for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)
    ]
    return (
        len(a.posonlyargs),
        positional,
        defaults,
        kwonly,
        a.vararg.arg if a.vararg else None,
        a.kwarg.arg if a.kwarg else None,
    )


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop(name, None)
    return module


def _reference(slug: str, module: str) -> ModuleType:
    return _import(REFERENCE / slug / f"{module}.py", f"_ref_{slug.replace('-', '_')}_{module}")


# --------------------------------------------------------------------------- every spec


def test_there_are_specs():
    assert set(NUMPY_HOMEWORK) <= set(SLUGS)


@pytest.mark.parametrize("slug", SLUGS)
def test_spec_loads(slug):
    spec = _spec(slug)
    assert spec.max_points > 0
    assert spec.deadline is not None and spec.deadline.tzinfo is not None


@pytest.mark.parametrize("slug", SLUGS)
def test_every_title_and_hint_is_in_chinese_too(slug):
    """The course is taught in Chinese: the result page in Chinese names every question
    and check by its spec's title_zh (a shipped spec without one fails here)."""
    spec = load_spec_file(SPECS / f"{slug}.yaml").spec
    assert spec.title_zh, slug
    assert spec.description_zh or not spec.description, f"{slug}: no description_zh"
    missing = [q.id for q in spec.questions if not q.title_zh]
    missing += [f"{q.id}/{c.id}" for q, c in spec.checks() if not c.title_zh]
    assert not missing, f"{slug}: no title_zh for {missing}"
    no_hint = [f"{q.id}/{c.id}" for q, c in spec.checks() if c.hint and not c.hint_zh]
    assert not no_hint, f"{slug}: a hint without its hint_zh: {no_hint}"


@pytest.mark.parametrize("slug", SLUGS)
def test_required_files_exist(slug):
    for required in _spec(slug).files:
        if not required.required:  # e.g. one of two accepted weight formats
            continue
        assert (REFERENCE / slug / required.name).is_file(), f"reference lacks {required.name}"
        assert (STARTERS / slug / required.name).is_file(), f"starter lacks {required.name}"
        size = (REFERENCE / slug / required.name).stat().st_size
        assert size <= required.max_bytes, f"reference {required.name} exceeds max_bytes"


@pytest.mark.parametrize("slug", SLUGS)
def test_starter_readmes_exist(slug):
    for name in ("README.md", "README.zh.md"):
        readme = STARTERS / slug / name
        assert readme.is_file(), f"{readme} is missing"
        text = readme.read_text(encoding="utf-8")
        assert slug in text, f"{readme} does not mention the assignment {slug}"


@pytest.mark.parametrize("slug", SLUGS)
def test_checked_functions_have_the_same_signature(slug):
    for module, names in _functions_named(slug).items():
        ref = _top_level_functions(REFERENCE / slug / f"{module}.py")
        starter = _top_level_functions(STARTERS / slug / f"{module}.py")
        for name in sorted(names):
            assert name in ref, f"reference {module}.py has no function {name}"
            assert name in starter, f"starter {module}.py has no function {name}"
            assert _signature(ref[name]) == _signature(starter[name]), (
                f"{module}.{name}: starter signature differs from the reference"
            )
            assert ast.get_docstring(starter[name]), f"starter {module}.{name} has no docstring"


def _raises_not_implemented(fn: ast.FunctionDef) -> bool:
    for node in fn.body:
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "NotImplementedError":
                return True
    return False


@pytest.mark.parametrize("slug", SLUGS)
def test_checked_starter_functions_are_stubs(slug):
    for module, names in _functions_named(slug).items():
        starter = _top_level_functions(STARTERS / slug / f"{module}.py")
        for name in sorted(names):
            assert _raises_not_implemented(starter[name]), (
                f"starter {module}.{name} should raise NotImplementedError"
            )


# --------------------------------------------------------------------------- numpy homework


@pytest.mark.parametrize("slug", NUMPY_HOMEWORK)
def test_numpy_starters_import_and_every_function_raises(slug):
    for required in _spec(slug).files:
        module = required.name.removesuffix(".py")
        path = STARTERS / slug / required.name
        starter = _import(path, f"_starter_{slug.replace('-', '_')}_{module}")
        functions = _top_level_functions(path)
        assert functions
        for name, node in functions.items():
            n_required = len(node.args.args) - len(node.args.defaults)
            with pytest.raises(NotImplementedError):
                getattr(starter, name)(*([None] * n_required))


@pytest.mark.parametrize("slug", NUMPY_HOMEWORK)
def test_numpy_references_define_every_starter_function(slug):
    for required in _spec(slug).files:
        ref = _top_level_functions(REFERENCE / slug / required.name)
        starter = _top_level_functions(STARTERS / slug / required.name)
        assert set(ref) == set(starter)
        for name in ref:
            assert _signature(ref[name]) == _signature(starter[name]), name
            assert ast.get_docstring(ref[name]) == ast.get_docstring(starter[name]), name


@pytest.mark.parametrize("slug", NUMPY_HOMEWORK)
def test_numpy_references_import_only_numpy(slug):
    allowed = {"numpy", "__future__", "math"}
    for required in _spec(slug).files:
        tree = ast.parse((REFERENCE / slug / required.name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for n in names:
                assert n.split(".")[0] in allowed, f"{slug} reference imports {n}"


# --------------------------------------------------------------------------- reference behaviour


def test_hw1_1_reference_behaves():
    m = _reference("hw1-1", "numpy_basics")
    rng = np.random.default_rng(0)
    assert m.range_matrix(2, 3).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert m.range_matrix(2, 3).dtype.kind == "i"
    assert m.checkerboard(2, 3).tolist() == [[1, 0, 1], [0, 1, 0]]
    a = np.arange(20.0).reshape(4, 5)
    assert m.every_other(a).tolist() == [[1.0, 3.0], [11.0, 13.0]]
    assert m.positive_entries(np.array([[1.0, -2.0], [0.0, 3.0]])).tolist() == [1.0, 3.0]
    assert m.outer_sum(np.array([1.0, 2.0]), np.array([10.0, 20.0, 30.0])).shape == (2, 3)
    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3))
    brute = np.array([[np.sum((x - y) ** 2) for y in Y] for x in X])
    np.testing.assert_allclose(m.pairwise_sq_distances(X, Y), brute, atol=1e-12)
    mean, mx, rows = m.summarize(X)
    assert mean.shape == (3,) and mx.shape == (3,) and rows.shape == (4,)
    np.testing.assert_array_equal(
        m.row_argmax(np.array([[0.0, 2.0, 1.0], [5.0, 0.0, 1.0]])), [1, 0]
    )
    z = m.zscore_columns(rng.normal(3.0, 2.0, size=(50, 4)))
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0, atol=1e-6)
    assert np.all(m.zscore_columns(np.ones((3, 2))) == 0.0)
    unit = m.l2_normalize_rows(np.array([[3, 4], [0, 0]]))
    np.testing.assert_allclose(unit, [[0.6, 0.8], [0.0, 0.0]])
    big = rng.normal(1000.0, 10.0, size=(6, 9))
    for logits in (big, -big, rng.uniform(-1000, 1000, size=(6, 9)), big[0]):
        p = m.softmax(logits)
        assert p.shape == logits.shape and np.all(np.isfinite(p))
        np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(m.softmax(big), m.softmax(big - 1000.0), rtol=1e-9, atol=1e-300)
    onehot = m.one_hot(np.array([2, 0]), 4)
    assert onehot.tolist() == [[0, 0, 1, 0], [1, 0, 0, 0]] and onehot.dtype == np.float64


def test_hw1_2_reference_behaves():
    m = _reference("hw1-2", "linear_regression")
    rng = np.random.default_rng(1)
    x = rng.uniform(-2, 2, 200)
    y = 1.5 * x - 0.7
    w, b = m.fit_closed_form(x, y)
    assert abs(w - 1.5) < 1e-10 and abs(b + 0.7) < 1e-10
    # far from the origin the centred formula stays accurate
    w, b = m.fit_closed_form(x + 1e4, 2.0 * (x + 1e4) + 3.0)
    assert abs(w - 2.0) < 1e-8 and abs(b - 3.0) < 1e-4
    noisy = y + rng.normal(0, 0.3, x.shape)
    w_cf, b_cf = m.fit_closed_form(x, noisy)
    w_gd, b_gd = m.fit_gd(x, noisy, lr=0.05, epochs=1000)
    assert abs(w_gd - w_cf) < 1e-8 and abs(b_gd - b_cf) < 1e-8
    assert m.fit_gd(x, noisy, lr=0.1, epochs=0) == (0.0, 0.0)
    # gradients agree with central finite differences
    wq, bq, h = 0.3, -1.2, 1e-6
    gw, gb = m.mse_gradients(x, noisy, wq, bq)
    loss = lambda w_, b_: m.mse(m.predict((w_, b_), x), noisy)  # noqa: E731
    assert abs(gw - (loss(wq + h, bq) - loss(wq - h, bq)) / (2 * h)) < 1e-5
    assert abs(gb - (loss(wq, bq + h) - loss(wq, bq - h)) / (2 * h)) < 1e-5
    assert m.mse(np.array([1.0, 3.0]), np.array([0.0, 0.0])) == 5.0


def test_hw1_3_reference_behaves():
    m = _reference("hw1-3", "polynomial_regression")
    rng = np.random.default_rng(2)
    X = m.poly_features(np.array([2.0, -1.0]), 3)
    assert X.tolist() == [[1, 2, 4, 8], [1, -1, 1, -1]]
    assert m.poly_features(np.array([5.0]), 0).shape == (1, 1)
    x = rng.uniform(-1, 1, 80)
    coef = np.array([0.5, -1.0, 0.0, 2.0])
    w = m.fit_poly(x, np.polyval(coef[::-1], x), 3)
    np.testing.assert_allclose(w, coef, atol=1e-10)
    np.testing.assert_allclose(m.predict(w, x), np.polyval(coef[::-1], x), atol=1e-10)
    # ridge leaves the bias unpenalised and matches the normal equations
    Xr, yr, lam = rng.normal(size=(30, 4)), rng.normal(size=30), 2.5
    D = np.eye(4)
    D[0, 0] = 0.0
    np.testing.assert_allclose(
        m.fit_ridge(Xr, yr, lam), np.linalg.solve(Xr.T @ Xr + lam * D, Xr.T @ yr), atol=1e-10
    )
    assert abs(m.fit_ridge(np.ones((5, 1)), np.arange(5.0), 100.0)[0] - 2.0) < 1e-12
    # the folds are j % k == i: a constant model's CV error by hand
    xs, ys = np.arange(6.0), np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    by_hand = np.mean([np.mean((ys[j::2] - ys[np.arange(6) % 2 != j].mean()) ** 2) for j in (0, 1)])
    assert abs(m.validation_error(xs, ys, 0, 0.0, 2) - by_hand) < 1e-12
    # selection picks (about) the true degree on clean-ish cubic data and is deterministic
    y = np.polyval(coef[::-1], x) + rng.normal(0, 0.05, x.shape)
    degree, lam, err = m.select_model(x, y)
    assert 3 <= degree <= 5 and err < 0.01
    assert m.select_model(x, y) == (degree, lam, err)
    np.testing.assert_array_equal(m.fit(x, y), m.fit(x, y))


# --------------------------------------------------------------------------- test submissions


def _submission_cases():
    if not SUBMISSIONS.is_dir():
        return []
    return sorted(
        (slug_dir.name, case.name)
        for slug_dir in SUBMISSIONS.iterdir()
        if slug_dir.is_dir()
        for case in slug_dir.iterdir()
        if case.is_dir()
    )


@pytest.mark.parametrize("slug", NUMPY_HOMEWORK)
def test_each_numpy_homework_has_test_submissions(slug):
    cases = [c for s, c in _submission_cases() if s == slug]
    assert "correct-alt" in cases
    assert len(cases) >= 4, "want a correct alternative and at least three buggy variants"


@pytest.mark.parametrize(("slug", "case"), _submission_cases())
def test_submission_expectations_are_well_formed(slug, case):
    from autograder.specs.samples import load_samples

    assert slug in SLUGS, f"grading_specs/samples/{slug} has no grading spec"
    spec = _spec(slug)
    folder = SUBMISSIONS / slug / case
    expect = next(
        s.expect
        for s in load_samples(SUBMISSIONS / slug, {f"{q.id}/{c.id}" for q, c in spec.checks()})
        if s.name == case
    )
    for required in spec.files:
        if not required.required:
            continue
        assert (folder / required.name).is_file(), f"{folder} lacks {required.name}"
    low, high = expect.score
    assert 0 <= low <= high <= spec.max_points
    assert expect.note, "say what the sample does and what was measured"
    failing, passing = set(expect.failing), set(expect.passing)
    assert not failing & passing
    if case.startswith("correct"):
        assert not failing and low == spec.max_points
    else:
        assert failing, "a buggy variant must name at least one failing check"


STARTER_SLUGS = sorted(p.name for p in (ROOT / "starters").iterdir() if p.is_dir())


@pytest.mark.parametrize("slug", STARTER_SLUGS)
def test_the_chinese_handout_carries_the_english_figures(slug):
    """Every figure of the English handout (points, limits, thresholds, measured results,
    sizes; code blocks aside) appears in the Chinese one too."""
    import re

    def figures(path: Path) -> set[str]:
        text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
        found = re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?%?", text)
        return {f.replace(",", "") for f in found}

    folder = ROOT / "starters" / slug
    missing = figures(folder / "README.md") - figures(folder / "README.zh.md")
    assert not missing, f"README.zh.md lacks {sorted(missing)}"
