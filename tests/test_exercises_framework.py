"""The probe/judge machinery: plain data out of student code, one sentence out of every judge."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mutation import is_one_sentence

from utils.checks import CheckFailure, NotImplementedYet
from utils.exercises import framework as fw


def stub(x):
    # YOUR CODE HERE
    raise NotImplementedError()


def test_observe_returns_plain_data_or_a_record_of_the_exception() -> None:
    import tensorflow as tf

    scalar, numbers, mapping = fw.observe(lambda: (np.float32(1.5), [1, 2], {"a": 3}))
    assert scalar.dtype == np.float32 and scalar.shape == () and numbers == [1, 2] and mapping == {"a": 3}
    out = fw.observe(lambda: {"a": tf.constant([1.0, 2.0])})
    assert isinstance(out["a"], np.ndarray) and out["a"].dtype == np.float32
    assert fw.observe(lambda: object()) == {fw.OBJECT: "object"}
    record = fw.observe(lambda x: x["missing"], {})
    assert fw.is_raised(record) and record[fw.RAISED] == "KeyError" and not record["stub"]
    json.dumps(record)  # a record crosses a process boundary as JSON
    assert fw.observe(stub, 1)["stub"] is True
    assert fw.observe(42)[fw.RAISED] == "NotCallable"


@pytest.mark.parametrize("value, fragment", [
    (None, "is None: did the function forget to `return`"),
    ((np.zeros(3), {}), "tuple of 2 values (the cs231n `return out, cache` habit?)"),
    ([0.0, 0.0, 0.0], "is a Python list"),
    ({fw.OBJECT: "Sequential"}, "should be an array of numbers, but it is a Sequential"),
    (np.zeros((3, 2)), "has shape (3, 2), expected shape (2, 3) (a transposed result?)"),
    (np.zeros((3, 2, 4)), "(axes in the wrong order?)"),
    (np.zeros(6), "(the right number of entries: reshaped in the wrong order?)"),
    (np.zeros((1, 2, 3)), "(an extra or missing axis of length 1: check keepdims or the reshape)"),
    (np.zeros((2, 3), int), "dtype int64, expected floating point"),
    (np.full((2, 3), np.nan), "contains NaN or infinity in 6 of 6 entries"),
    (np.ones((2, 3)) * 2, "is off by a relative error of 3.3e-01"),
])
def test_expect_array_fails_with_one_sentence(value, fragment) -> None:
    with pytest.raises(CheckFailure) as info:
        fw.expect_array("out", value, np.ones((2, 3)) if fragment != "(axes in the wrong order?)" else np.ones((2, 4, 3)))
    assert fragment in str(info.value) and is_one_sentence(str(info.value))


def test_expect_array_scales_its_tolerance_by_dtype_and_says_when_float32_is_the_cause() -> None:
    expected = np.array([1.0, 2.0, 1e-9])
    assert fw.expect_array("out", expected.astype(np.float32), expected) <= fw.FLOAT32_TOL
    with pytest.raises(CheckFailure, match="float32, which keeps about 7 significant digits"):
        fw.expect_array("out", (expected * (1 + 1e-3)).astype(np.float32), expected)
    with pytest.raises(CheckFailure) as info:
        fw.expect_array("out", (expected * 1.5).astype(np.float32), expected)
    assert "float32" not in str(info.value)  # a real mistake is not blamed on precision


def test_a_stub_and_a_crash_become_sentences() -> None:
    with pytest.raises(NotImplementedYet, match="`stub` is not implemented yet"):
        fw.expect_array("out", fw.observe(stub, 1), np.zeros(1))
    with pytest.raises(CheckFailure, match=r"`<lambda>` raised ZeroDivisionError: division by zero"):
        fw.expect_array("out", fw.observe(lambda: 1 / 0), np.zeros(1))


def test_expect_equal_and_expect_int() -> None:
    fw.expect_equal("shape", (2, 3), [2, 3])
    with pytest.raises(CheckFailure, match=r"sizes is \(0, 1, 2, 3, 4, 5.*\.\.\., expected"):
        fw.expect_equal("sizes", list(range(100)), list(range(1, 101)))
    assert fw.expect_int("size", np.asarray(np.int64(3))) == 3
    with pytest.raises(CheckFailure, match="should be an int, but it is a float"):
        fw.expect_int("size", 3.0)


def test_a_check_runs_probe_and_judge_and_never_lets_a_traceback_through(capsys, monkeypatch) -> None:
    def probe(func, scale=1):
        return {"out": fw.observe(func, np.arange(3.0) * scale)}

    def judge(data, scale=1):
        fw.expect_array("double(x)", data["out"], 2 * np.arange(3.0) * scale)
        return "double works"

    double = fw.check("framework_test.double", probe, judge)
    double(lambda x: x + x)
    assert capsys.readouterr().out.strip() == "\u2713 double works"
    double(lambda x: 2 * x, scale=5)  # hidden tests pass other inputs as options
    assert fw.REGISTRY["framework_test.double"] is double
    assert double.verdict(lambda x: 3 * x)[0] is False
    exploding = fw.check("framework_test.exploding", lambda f: 1 / 0, judge)
    with pytest.raises(CheckFailure, match="The check could not run your code on its inputs"):
        exploding(None)
    with pytest.raises(CheckFailure, match="could not make sense of what your code returned"):
        fw.check("framework_test.confused", probe, lambda data: data["nope"])(lambda x: x)
    monkeypatch.setenv("COURSE_FULL_TRACEBACKS", "1")
    with pytest.raises(ZeroDivisionError):
        double(lambda x: x / 0 if False else 1 / 0)


def test_a_check_leaves_the_global_random_state_as_it_found_it() -> None:
    import random

    import keras
    import tensorflow as tf

    def draws() -> tuple:
        return (random.random(), float(np.random.rand()), float(keras.random.uniform(()).numpy()),
                float(tf.random.uniform(()).numpy()), float(keras.layers.Dense(1)(np.ones((1, 1))).numpy()[0, 0]))

    def noisy_probe(func):
        tf.random.set_seed(99)  # even a student's set_seed inside a check is undone
        return {"out": fw.observe(func, np.arange(3.0)), "noise": draws()}

    noisy = fw.check("framework_test.noisy", noisy_probe, lambda data: "fine")
    keras.utils.set_random_seed(5)
    expected = draws()
    keras.utils.set_random_seed(5)
    noisy(lambda x: x)
    assert draws() == expected
