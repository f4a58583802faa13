"""The benchmark builds each lab's model from its solution and reports honest rates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from utils import bench
from utils.profiles import get_profile


def test_matmul_rate_is_positive_and_finite() -> None:
    rate = bench.matmul_rate(n=256, repeats=2)
    assert 1e6 < rate < 1e16


@pytest.mark.parametrize("spec", bench.MODELS, ids=lambda s: s.lab)
def test_models_build_from_their_solutions(spec: bench.BenchModel) -> None:
    from utils.model_table import tabulate

    model = bench.build_model(spec, get_profile("smoke").lab(spec.lab))
    assert tuple(model.input_shape[1:]) == bench.input_shape_of(spec, get_profile("smoke").lab(spec.lab))
    assert model.output_shape[-1] == spec.classes
    assert tabulate(model).mult_adds > 0


def test_throughput_and_report(tmp_path: Path) -> None:
    spec = bench.MODELS[0]
    model = bench.build_model(spec, get_profile("smoke").lab(spec.lab))
    ips = bench.throughput(model, spec.input_shape, spec.classes, batch_size=32, steps=3)
    assert ips > 0
    (tmp_path / "summary-smoke.json").write_text(json.dumps(
        {"profile": "smoke", "results": [{"notebook": "01_backprop_by_hand", "seconds": 21.5}]}))
    times = bench.wall_times(tmp_path)
    assert times == {"01_backprop_by_hand": {"smoke": 21.5}}
    report = {"profile": "smoke", "matmul_mult_adds_per_s": 1e10, "notebook_wall_times_s": times,
              "models": [{"lab": "backprop", "model": "m", "params": 10, "mult_adds_per_image": 2e5,
                          "batch_size": 32, "images_per_s": ips, "achieved_mult_adds_per_s": 1e9,
                          "fraction_of_peak": 0.1}]}
    text = bench.format_report(report)
    assert "10.0%" in text and "01_backprop_by_hand" in text and "22s" in text
