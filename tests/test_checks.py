"""The feedback machinery: precise one-sentence messages, honest comparisons, sound gradients."""

from __future__ import annotations

import numpy as np
import pytest

from utils import checks
from utils.checks import CheckFailure, NotImplementedYet


def stub(x):
    # YOUR CODE HERE
    raise NotImplementedError()


def test_rel_error_is_cs231n_style() -> None:
    assert checks.rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert checks.rel_error(1.0, 1.1) == pytest.approx(0.1 / 2.1)
    assert checks.rel_error(0.0, 0.0) == 0.0


def test_passing_check_prints_one_line_with_tick(capsys) -> None:
    assert checks.check_array("x", np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-12])) is None
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("\u2713 x: relative error 2.5e-13")


@pytest.mark.parametrize(
    "actual, expected, fragment",
    [
        (None, np.zeros(2), "is None: did the function forget to `return`"),
        ("abc", np.zeros(2), "should be an array of numbers"),
        (np.zeros((3, 2)), np.zeros((2, 3)), "has shape (3, 2), expected shape (2, 3) (a transposed result?)"),
        (np.zeros(2, dtype=int), np.zeros(2), "dtype int64, expected floating point"),
        (np.array([1.0, np.nan]), np.zeros(2), "contains NaN or infinity in 1 of 2 entries"),
        (np.array([1.0, 3.0]), np.array([1.0, 2.0]), "relative error of 2.0e-01"),
        (np.zeros(3), 0.0, "has shape (3,), expected a scalar"),
    ],
)
def test_failing_checks_explain_in_one_sentence(actual, expected, fragment) -> None:
    with pytest.raises(CheckFailure) as info:
        checks.check_array("out", actual, expected)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert info.value._render_traceback_() == [f"\x1b[1;31m\u2717 {message}\x1b[0m"]


def test_full_tracebacks_can_be_requested(monkeypatch) -> None:
    monkeypatch.setenv("COURSE_FULL_TRACEBACKS", "1")
    with pytest.raises(RuntimeError):
        CheckFailure("x")._render_traceback_()


def test_call_turns_a_stub_into_not_implemented_yet() -> None:
    with pytest.raises(NotImplementedYet, match=r"^`stub` is not implemented yet: replace `raise NotImplementedError\(\)`"):
        checks.call(stub, 1)


def test_call_reports_a_crash_with_its_type() -> None:
    def broken(x):
        return np.zeros((2, 3)) @ np.zeros((2, 3))

    with pytest.raises(CheckFailure, match=r"`broken` raised ValueError: matmul"):
        checks.call(broken, 1)


def test_call_checks_the_number_of_returned_values() -> None:
    with pytest.raises(CheckFailure, match=r"returned a single ndarray; it should return 2 values \(out, cache\)"):
        checks.call(lambda x: x, np.zeros(2), returns=("out", "cache"))
    with pytest.raises(CheckFailure, match="returned None"):
        checks.call(lambda x: None, 1, returns=("out", "cache"))
    assert checks.call(lambda x: (x, x), 1, returns=("out", "cache")) == (1, 1)


def test_check_mapping_names_the_missing_key() -> None:
    with pytest.raises(CheckFailure, match="has no entry for 'b'"):
        checks.check_mapping("grads", {"a": 1.0}, {"a": 1.0, "b": 2.0})
    with pytest.raises(CheckFailure, match=r"grads\['a'\] is off"):
        checks.check_mapping("grads", {"a": 1.5}, {"a": 1.0})
    with pytest.raises(CheckFailure, match="should be a dict"):
        checks.check_mapping("grads", [1.0], {"a": 1.0})


def test_numeric_gradients_match_analytic_ones() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    numeric = checks.eval_numerical_gradient(lambda v: float(np.sum(v ** 3)), x)
    assert checks.rel_error(numeric, 3 * x ** 2) < 1e-7
    df = rng.normal(size=(3, 4))
    numeric = checks.eval_numerical_gradient_array(np.tanh, x, df)
    assert checks.rel_error(numeric, df * (1 - np.tanh(x) ** 2)) < 1e-8
    grads = checks.numerical_gradient_dict(lambda p: p["a"] ** 2 * p["b"], {"a": 3.0, "b": 2.0})
    assert grads["a"] == pytest.approx(12.0) and grads["b"] == pytest.approx(9.0)


def test_numeric_gradient_needs_floats() -> None:
    with pytest.raises(CheckFailure, match="floating-point"):
        checks.eval_numerical_gradient(lambda v: 0.0, np.zeros(3, dtype=int))


def test_tf_vjp_matches_a_known_gradient() -> None:
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    (grad,) = checks.tf_vjp(lambda a: a * a, [x], np.ones_like(x))
    assert np.allclose(grad, 2 * x)


def test_learning_targets(capsys) -> None:
    checks.check_at_least("accuracy", 0.91, 0.9)
    assert "\u2713 accuracy: 0.9100 (target \u2265 0.9000)" in capsys.readouterr().out
    with pytest.raises(CheckFailure, match="accuracy is 0.5000, below the target of 0.9000"):
        checks.check_at_least("accuracy", 0.5, 0.9)
    with pytest.raises(CheckFailure, match="training diverged"):
        checks.check_at_least("accuracy", float("nan"), 0.9)
    with pytest.raises(CheckFailure, match="above the limit"):
        checks.check_at_most("loss", 2.0, 1.0)


def test_check_equal() -> None:
    checks.check_equal("shape", (2, 10), (2, 10))
    with pytest.raises(CheckFailure, match=r"shape is \(2, 3\), expected \(2, 10\)"):
        checks.check_equal("shape", (2, 3), (2, 10))
    checks.check_equal("rows", [(1, 2), (3, 4)], [[1, 2], [3, 4]])
    checks.check_equal("sizes", np.array([55, 27]), [55, 27])
    with pytest.raises(CheckFailure, match=r"worst entry is at index \(1,\): got 3, expected 2"):
        checks.check_array("out", np.array([1.0, 3.0]), np.array([1.0, 2.0]))


def test_check_array_names_the_entry_with_the_worst_relative_error() -> None:
    # The largest absolute difference (index 0) is relatively tiny; the near-zero entry is what fails.
    with pytest.raises(CheckFailure, match=r"worst entry is at index \(1,\): got 2e-06, expected 1e-06"):
        checks.check_array("scores", np.array([100.001, 2e-6]), np.array([100.0, 1e-6]), tol=1e-4)


def test_check_array_atol_forgives_float32_rounding_near_zero() -> None:
    got, expected = np.array([2.5, 3e-7], dtype=np.float32), np.array([2.5, 1e-7], dtype=np.float32)
    with pytest.raises(CheckFailure):
        checks.check_array("scores", got, expected, tol=1e-4)
    checks.check_array("scores", got, expected, tol=1e-4, atol=1e-5)
    with pytest.raises(CheckFailure, match="differences up to 1e-05 ignored"):
        checks.check_array("scores", np.array([2.6, 3e-7]), expected, tol=1e-4, atol=1e-5)


def test_check_array_accepts_scalar_tensors() -> None:
    import tensorflow as tf

    checks.check_array("dice", tf.constant(0.5), np.float64(0.5), tol=1e-6)
    with pytest.raises(checks.CheckFailure, match="dice"):
        checks.check_array("dice", tf.constant(0.7), np.float64(0.5), tol=1e-6)


def test_check_equal_never_dumps_long_values() -> None:
    with pytest.raises(CheckFailure) as info:
        checks.check_equal("sizes", list(range(40)), list(range(1, 41)))
    assert len(str(info.value)) < 250 and "..." in str(info.value)
