"""Benchmark: each lab's main model's training throughput against the machine's matrix-multiply rate.

For every lab the main model is built by the lab's own solution code (the
solution cells named by ``grade_id`` are executed in a scratch namespace, so the
benchmark never copies a solution), trained for a few steps on random data of the
lab's input shape, and timed. Its multiply-adds per image come from
:mod:`utils.model_table`; a training step costs about three forward passes
(forward, gradients of activations, gradients of weights), so the achieved rate
is ``3 x multiply-adds per image x images per second``, reported as a fraction of
the dense float32 matrix-multiply rate (the peak). Models are built and trained
inside :func:`utils.training.accelerated`, so the profile's mixed precision, XLA
and multi-GPU settings apply. Notebook wall and CPU times come from the runner's
``build/summary-PROFILE.json``.

A shared machine changes speed from one second to the next, so the benchmark
holds on a busy one in three ways:

* the peak is read immediately before each timed training run and after it (the
  fastest of a few multiplies each time), and every model is timed several times;
  the ratio is the best run over the best reading, and its spread is that of the
  per-run ratios (each run against the readings on either side of it);
* on CPUs both rates are per second of this process's CPU time (user + system)
  instead of wall time: another process that takes a core slows the multiply and
  the training alike in wall time, by amounts that depend on how each uses the
  threads it is left, but the work done per CPU second it got stays the same. The
  wall-time throughput and the cores the training kept busy are reported beside
  it. GPUs are timed by the wall clock (``clock`` in :data:`utils.profiles.BENCH`);
* a spread above the profile's ``max_spread`` means the machine was too busy for
  a trustworthy figure, and the report says so.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from utils.labs import ROOT, SOLUTIONS, read

BUILD = ROOT / "build"
TRAINING_PASSES = 3  # forward, backward to activations, backward to weights


@dataclass(frozen=True)
class BenchModel:
    """How to build one lab's main model from its solution notebook."""

    lab: str  # profile key
    notebook: str  # solution file stem
    cells: tuple[str, ...]  # grade_ids of the cells that define the builder (and what it needs)
    build: str  # expression evaluated after those cells, using `cfg` (the lab's settings)
    input_shape: tuple[int, ...] | str  # per image; a string is an expression using `cfg`
    classes: int  # output units; with target "mask", the output channels of a per-pixel sigmoid
    label: str
    target: str = "classes"  # "classes": integer labels, softmax logits; "mask": a binary map like the output


def input_shape_of(spec: BenchModel, cfg: Any) -> tuple[int, ...]:
    """Return a model's per-image input shape in a profile."""
    if isinstance(spec.input_shape, str):
        return tuple(eval(spec.input_shape, {"cfg": cfg}))  # noqa: S307 - our own registry, not user input
    return spec.input_shape


MODELS: tuple[BenchModel, ...] = (
    BenchModel("backprop", "01_backprop_by_hand", ("c1_keras_mlp",), "build_keras_mlp(784, cfg.hidden, 10)",
               (784,), 10, "two-layer MLP (Keras)"),
    BenchModel("convolution", "02_convolution", ("f1_lenet",), "build_lenet5()", (32, 32, 1), 10, "LeNet-5"),
    BenchModel("init_batchnorm", "03_init_and_batchnorm", ("c1_build_mlp",),
               "build_mlp(cfg.depth, cfg.width, batch_norm=True, bn_momentum=cfg.bn_momentum)", (28, 28), 10,
               "deep MLP with batch norm"),
    BenchModel("architectures", "04_cnn_architectures", ("a3_basic_block", "a5_cifar_resnet"),
               "cifar_resnet(3, (32, 32, 3), 10, widths=cfg.widths)", (32, 32, 3), 10, "ResNet-20"),
    BenchModel("transfer", "05_transfer_learning", (), "zoo.build_encoder(zoo.EncoderConfig.from_lab(cfg))",
               (28, 28, 1), 5, "course encoder CNN"),
    BenchModel("autoencoder_unet", "06_autoencoder_unet", ("c3_block", "c3_unet"),
               "build_unet((cfg.crop_size, cfg.crop_size, 1), cfg.unet_filters, bn_momentum=cfg.unet_bn_momentum)",
               "(cfg.crop_size, cfg.crop_size, 1)", 1, "U-Net", target="mask"),
)


@dataclass
class BenchRow:
    """One model's measured training throughput, its ratio to the peak and how much that ratio moved."""

    lab: str
    model: str
    params: int
    mult_adds_per_image: int
    batch_size: int
    images_per_s: float  # the best timed run, by the wall clock
    cores: float  # CPU seconds per wall second over the timed runs: how many cores the training kept busy
    achieved_mult_adds_per_s: float  # the best run, per second of the report's clock
    peak_mult_adds_per_s: float  # the best peak reading around this model's runs, per second of the same clock
    fraction_of_peak: float  # best achieved over best peak
    spread: float  # (largest - smallest) / largest of the per-run ratios
    peak_spread: float  # the same for the peak readings
    run_fractions: list[float]  # each timed run against the mean of the peak readings on either side of it


@dataclass(frozen=True)
class Reading:
    """Work done and the wall and CPU seconds it took."""

    work: float  # multiply-adds or images
    wall: float
    cpu: float

    def rate(self, clock: str) -> float:
        """Work per second of ``clock`` ("wall" or "cpu")."""
        return self.work / max(self.wall if clock == "wall" else self.cpu, 1e-9)


@dataclass(frozen=True)
class Timing:
    """Repeated measurements around one model: peak readings interleaved with timed training runs."""

    peaks: list[Reading]  # the fastest multiply of each reading; peaks[i] before run i, peaks[i + 1] after it
    runs: list[Reading]  # images trained in each timed run


def timed(fn: Callable[[], Any], work: float) -> Reading:
    """Run ``fn`` once and return its work with the wall and CPU seconds it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return Reading(work, time.perf_counter() - wall, time.process_time() - cpu)


def bench_settings(profile: str) -> dict[str, Any]:
    """Return the benchmark's settings in a profile (utils.profiles.BENCH)."""
    from utils.profiles import BENCH

    return dict(BENCH[profile])


def relative_spread(values: list[float]) -> float:
    """Return (largest - smallest) / largest: 0 for identical readings."""
    return (max(values) - min(values)) / max(values) if values and max(values) > 0 else 0.0


def matmul_rate(n: int = 2048, repeats: int = 5, clock: str = "wall") -> float:
    """Return the best measured float32 dense matrix-multiply rate, in multiply-adds per second of ``clock``."""
    return max(r.rate(clock) for r in matmul_readings(n, repeats))


def matmul_readings(n: int = 2048, repeats: int = 5) -> list[Reading]:
    """Time ``repeats`` float32 ``n x n`` matrix multiplies (after a warm-up one); their multiply-adds and times."""
    import tensorflow as tf

    a, b = _matrices(n)

    def multiply() -> None:
        tf.linalg.matmul(a, b).numpy()

    multiply()  # warm-up: wakes the thread pool after whatever ran before
    return [timed(multiply, float(n) ** 3) for _ in range(repeats)]


_MATRICES: dict[int, Any] = {}


def _matrices(n: int) -> tuple[Any, Any]:
    """Return two fixed random n x n float32 matrices, made once per size (drawing them costs more than a multiply)."""
    import tensorflow as tf

    if n not in _MATRICES:
        _MATRICES[n] = (tf.random.normal((n, n), seed=0), tf.random.normal((n, n), seed=1))
    return _MATRICES[n]


def build_model(spec: BenchModel, cfg: Any) -> Any:
    """Build a lab's main model by running its solution's builder cells in a scratch namespace."""
    import keras
    import numpy as np
    import tensorflow as tf

    nb = read(SOLUTIONS / f"{spec.notebook}.ipynb")
    sources = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in nb.cells}
    from utils import zoo

    namespace: dict[str, Any] = {"keras": keras, "np": np, "tf": tf, "layers": keras.layers, "cfg": cfg, "zoo": zoo}
    for grade_id in spec.cells:
        if grade_id not in sources:
            raise KeyError(f"{spec.notebook} has no cell with grade_id {grade_id!r}")
        exec(compile(sources[grade_id], f"<{spec.notebook}:{grade_id}>", "exec"), namespace)  # noqa: S102
    return eval(spec.build, namespace)  # noqa: S307 - our own registry, not user input


def _training_data(model: Any, input_shape: tuple[int, ...], classes: int, batch_size: int, steps: int,
                   target: str) -> tuple[Any, Any]:
    """Return (random dataset of ``steps`` batches, loss) for timing a model's training."""
    import keras
    import numpy as np

    from utils.training import make_dataset

    rng = np.random.default_rng(0)
    x = rng.normal(size=(batch_size * steps, *input_shape)).astype("float32")
    if target == "mask":
        y = (rng.random((batch_size * steps, *model.output_shape[1:])) > 0.5).astype("float32")
        loss = keras.losses.BinaryCrossentropy()
    else:
        y = rng.integers(0, classes, size=batch_size * steps)
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    return make_dataset(x, y, batch_size=batch_size), loss


def throughput(model: Any, input_shape: tuple[int, ...], classes: int, batch_size: int, steps: int = 20,
               compile_options: dict[str, Any] | None = None, target: str = "classes") -> float:
    """Return training images per wall second of ``model`` on random data, after a warm-up epoch."""
    timing = timed_runs(model, input_shape, classes, batch_size, steps, repeats=1, compile_options=compile_options,
                        target=target)
    return timing.runs[0].rate("wall")


def timed_runs(model: Any, input_shape: tuple[int, ...], classes: int, batch_size: int, steps: int = 20,
               repeats: int = 5, compile_options: dict[str, Any] | None = None, target: str = "classes",
               min_seconds: float = 0.0, peak: Callable[[], Reading] | None = None) -> Timing:
    """Time ``repeats`` training runs of ``model`` on random data, with a peak reading before and after each."""
    import keras

    dataset, loss = _training_data(model, input_shape, classes, batch_size, steps, target)
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, **(compile_options or {}))
    model.fit(dataset, epochs=1, verbose=0)  # traces and warms up
    trial = timed(lambda: model.fit(dataset, epochs=1, verbose=0), batch_size * steps)
    rounds = max(1, math.ceil(min_seconds / trial.wall))  # long enough to outweigh fit's own overhead
    dataset = dataset.repeat(rounds)
    peaks = [peak()] if peak else []
    runs = []
    for _ in range(repeats):
        runs.append(timed(lambda: model.fit(dataset, epochs=1, verbose=0), rounds * batch_size * steps))
        if peak:
            peaks.append(peak())
    return Timing(peaks, runs)


def measure(spec: BenchModel, cfg: Any, settings: dict[str, Any], profile: str) -> BenchRow:
    """Build one lab's model, time it between peak readings as ``settings`` say, and return its row."""
    from utils.model_table import tabulate
    from utils.training import accelerated

    clock = settings["clock"]

    def peak() -> Reading:
        return max(matmul_readings(settings["matmul_size"], settings["peak_repeats"]), key=lambda r: r.rate(clock))

    with accelerated(profile) as accel:  # the profile's precision, XLA and multi-GPU settings
        model = build_model(spec, cfg)
        mult_adds = tabulate(model).mult_adds
        batch = int(cfg.as_dict().get("batch_size", cfg.as_dict().get("unet_batch_size", 64)))
        timing = timed_runs(model, input_shape_of(spec, cfg), spec.classes, batch, settings["steps"],
                            settings["repeats"], accel.compile_options, spec.target, settings["min_seconds"], peak)
    per_image = TRAINING_PASSES * mult_adds
    achieved = [per_image * run.rate(clock) for run in timing.runs]
    peaks = [reading.rate(clock) for reading in timing.peaks]
    # Each run is judged against the machine as it was just then: the mean of the readings on either side of it.
    fractions = [rate / ((before + after) / 2) for rate, before, after in zip(achieved, peaks, peaks[1:])]
    cores = sum(run.cpu for run in timing.runs) / sum(run.wall for run in timing.runs)
    best_images = max(run.rate("wall") for run in timing.runs)
    return BenchRow(spec.lab, spec.label, model.count_params(), mult_adds, batch, round(best_images, 1),
                    round(cores, 2), max(achieved), max(peaks), max(achieved) / max(peaks),
                    relative_spread(fractions), relative_spread(peaks), fractions)


def warnings_for(rows: list[dict[str, Any]], max_spread: float) -> list[str]:
    """Return one sentence per model whose ratio or peak readings moved more than ``max_spread`` over the repeats."""
    warnings = []
    for r in rows:
        worst = max(r["spread"], r["peak_spread"])
        if worst > max_spread:
            what = "its per-run ratios" if r["spread"] >= r["peak_spread"] else "the peak readings around it"
            warnings.append(f"{r['model']}: {what} spread {worst:.0%} (more than {max_spread:.0%}); the machine was "
                            f"too busy for a trustworthy figure, so run the benchmark again when it is quieter.")
    return warnings


def wall_times(build: Path = BUILD) -> dict[str, dict[str, float]]:
    """Return notebook wall times per profile from the runner's summary-PROFILE.json files."""
    return _summary_times(build, "seconds")


def cpu_times(build: Path = BUILD) -> dict[str, dict[str, float]]:
    """Return notebook CPU times (the kernel's user + system seconds) per profile, where the runner recorded them."""
    return _summary_times(build, "cpu_seconds")


def _summary_times(build: Path, key: str) -> dict[str, dict[str, float]]:
    """Return ``key`` of every notebook per profile from the runner's summary-PROFILE.json files."""
    times: dict[str, dict[str, float]] = {}
    for path in sorted(build.glob("summary-*.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        for result in summary["results"]:
            if result.get(key) is not None:
                times.setdefault(result["notebook"], {})[summary["profile"]] = result[key]
    return times


def run(profile: str | None = None, out: Path = BUILD / "bench.json", steps: int | None = None,
        models: tuple[BenchModel, ...] = MODELS, settings: dict[str, Any] | None = None,
        echo: bool = True) -> dict[str, Any]:
    """Measure the registered models in the active profile; print a table and write JSON."""
    from utils.profiles import get_profile
    from utils.session import quiet_logs, seed_everything
    from utils.training import describe, settings as training_settings

    quiet_logs()
    seed_everything(0)
    active = get_profile(profile)
    chosen = {**bench_settings(active.name), **(settings or {})}
    if steps is not None:
        chosen["steps"] = steps
    load_before = _load_average()
    rows = [measure(spec, active.lab(spec.lab), chosen, active.name) for spec in models]
    # How many cores a bare multiply got just now: about all of them on a quiet machine.
    multiply = max(matmul_readings(chosen["matmul_size"], chosen["peak_repeats"]), key=lambda r: r.rate("wall"))
    report = {"profile": active.name, "training": describe(training_settings(active.name)), "settings": chosen,
              "clock": chosen["clock"], "load_average": [load_before, _load_average()],
              "matmul_mult_adds_per_s": max(r.peak_mult_adds_per_s for r in rows),
              "matmul_cores": round(multiply.cpu / multiply.wall, 2), "cpu_count": os.cpu_count(),
              "models": [asdict(r) for r in rows], "notebook_wall_times_s": wall_times(out.parent),
              "notebook_cpu_times_s": cpu_times(out.parent)}
    report["warnings"] = warnings_for(report["models"], chosen["max_spread"])
    if echo:
        print(format_report(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def _load_average() -> float | None:
    """Return the one-minute load average, or None where the OS has none."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # Windows
        return None


def format_report(report: dict[str, Any]) -> str:
    """Return the benchmark report as aligned text tables."""
    per = "CPU s" if report.get("clock") == "cpu" else "s"
    load = [x for x in report.get("load_average") or [] if x is not None]
    busy = (f"; a bare multiply got {report['matmul_cores']:.1f} of {report['cpu_count']} cores"
            if report.get("matmul_cores") and report.get("cpu_count") else "")
    lines = [f"Profile: {report['profile']}" + (f"; {report['training']}" if report.get("training") else ""),
             f"Dense float32 matmul: {report['matmul_mult_adds_per_s'] / 1e9:.1f} G multiply-adds per {per} at best"
             + busy + (f"; load average {load[0]:.1f} before, {load[-1]:.1f} after" if load else ""),
             "", f"{'lab':<18}{'model':<26}{'params':>11}{'MACs/img':>11}{'batch':>7}{'img/s':>9}{'cores':>7}"
             f"{'GMAC/' + per:>13}{'peak':>8}{'of peak':>9}{'spread':>8}"]
    for r in report["models"]:
        peak = r.get("peak_mult_adds_per_s", report["matmul_mult_adds_per_s"])
        cores = f"{r['cores']:>7.2f}" if "cores" in r else f"{'-':>7}"
        spread = f"{r['spread']:>7.1%}" if "spread" in r else f"{'-':>7}"
        lines.append(f"{r['lab']:<18}{r['model']:<26}{r['params']:>11,}{r['mult_adds_per_image'] / 1e6:>10.2f}M"
                     f"{r['batch_size']:>7}{r['images_per_s']:>9.0f}{cores}"
                     f"{r['achieved_mult_adds_per_s'] / 1e9:>13.2f}{peak / 1e9:>8.1f}{r['fraction_of_peak']:>9.1%} "
                     f"{spread}")
    lines.append(f"(img/s: the best run by the wall clock; cores: CPU seconds per wall second while training; "
                 f"GMAC/{per} and peak: the best run and the best multiply around it, per {per}; of peak: their ratio; "
                 f"spread: (largest - smallest) / largest of the per-run ratios)")
    for warning in report.get("warnings", []):
        lines.append(f"WARNING {warning}")
    times = report.get("notebook_wall_times_s") or {}
    cpu = report.get("notebook_cpu_times_s") or {}
    if times:
        profiles = sorted({p for t in times.values() for p in t})
        lines += ["", f"{'notebook':<32}" + "".join(f"{p + ' wall':>12}{'CPU':>8}" for p in profiles)]
        for name, by_profile in sorted(times.items()):
            cells = []
            for p in profiles:
                cells.append(f"{by_profile[p]:>11.0f}s" if p in by_profile else f"{'-':>12}")
                cells.append(f"{cpu[name][p]:>7.0f}s" if p in cpu.get(name, {}) else f"{'-':>8}")
            lines.append(f"{name:<32}" + "".join(cells))
    else:
        lines.append("\nNo notebook wall times yet: run `make run PROFILE=smoke` and `make run PROFILE=cpu` first.")
    return "\n".join(lines)
