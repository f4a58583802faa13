"""Benchmark: each lab's main model's training throughput against the machine's matrix-multiply rate.

For every lab the main model is built by the lab's own solution code (the
solution cells named by ``grade_id`` are executed in a scratch namespace, so the
benchmark never copies a solution), trained for a few steps on random data of the
lab's input shape, and timed. Its multiply-adds per image come from
:mod:`utils.model_table`; a training step costs about three forward passes
(forward, gradients of activations, gradients of weights), so the achieved rate
is ``3 x multiply-adds per image x images per second``, reported as a fraction of
the dense float32 matrix-multiply rate measured on the same machine in the same
run. Models are built and trained inside :func:`utils.training.accelerated`, so the
profile's mixed precision, XLA and multi-GPU settings apply. Notebook wall times
come from the runner's ``build/summary-PROFILE.json``.
"""

from __future__ import annotations

import json
import time
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
    """One model's measured training throughput."""

    lab: str
    model: str
    params: int
    mult_adds_per_image: int
    batch_size: int
    images_per_s: float
    achieved_mult_adds_per_s: float
    fraction_of_peak: float


def matmul_rate(n: int = 2048, repeats: int = 5) -> float:
    """Return the best measured float32 dense matrix-multiply rate, in multiply-adds per second."""
    import tensorflow as tf

    a = tf.random.normal((n, n), seed=0)
    b = tf.random.normal((n, n), seed=1)
    tf.linalg.matmul(a, b).numpy()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        tf.linalg.matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return n**3 / best


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


def throughput(model: Any, input_shape: tuple[int, ...], classes: int, batch_size: int, steps: int = 20,
               compile_options: dict[str, Any] | None = None, target: str = "classes") -> float:
    """Return training images per second of ``model`` on random data, after a warm-up epoch."""
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
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss=loss, **(compile_options or {}))
    dataset = make_dataset(x, y, batch_size=batch_size)
    model.fit(dataset, epochs=1, verbose=0)  # traces and warms up
    start = time.perf_counter()
    model.fit(dataset, epochs=1, verbose=0)
    return batch_size * steps / (time.perf_counter() - start)


def wall_times(build: Path = BUILD) -> dict[str, dict[str, float]]:
    """Return notebook wall times per profile from the runner's summary-PROFILE.json files."""
    times: dict[str, dict[str, float]] = {}
    for path in sorted(build.glob("summary-*.json")):
        summary = json.loads(path.read_text(encoding="utf-8"))
        for result in summary["results"]:
            times.setdefault(result["notebook"], {})[summary["profile"]] = result["seconds"]
    return times


def run(profile: str | None = None, out: Path = BUILD / "bench.json", steps: int = 20) -> dict[str, Any]:
    """Measure every registered model in the active profile; print a table and write JSON."""
    from utils.model_table import tabulate
    from utils.profiles import get_profile
    from utils.session import quiet_logs, seed_everything
    from utils.training import accelerated, describe

    quiet_logs()
    seed_everything(0)
    active = get_profile(profile)
    peak = matmul_rate()
    rows = []
    for spec in MODELS:
        cfg = active.lab(spec.lab)
        with accelerated(active.name) as accel:  # the profile's precision, XLA and multi-GPU settings
            model = build_model(spec, cfg)
            mult_adds = tabulate(model).mult_adds
            batch = int(cfg.as_dict().get("batch_size", cfg.as_dict().get("unet_batch_size", 64)))
            ips = throughput(model, input_shape_of(spec, cfg), spec.classes, batch, steps, accel.compile_options,
                             spec.target)
        achieved = TRAINING_PASSES * mult_adds * ips
        rows.append(BenchRow(spec.lab, spec.label, model.count_params(), mult_adds, batch, round(ips, 1),
                             achieved, achieved / peak))
    report = {"profile": active.name, "training": describe(accel), "matmul_mult_adds_per_s": peak,
              "models": [asdict(r) for r in rows], "notebook_wall_times_s": wall_times(out.parent)}
    print(format_report(report))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def format_report(report: dict[str, Any]) -> str:
    """Return the benchmark report as aligned text tables."""
    lines = [f"Profile: {report['profile']}" + (f"; {report['training']}" if report.get("training") else ""),
             f"Dense float32 matmul: {report['matmul_mult_adds_per_s'] / 1e9:.1f} G multiply-adds/s (the peak below)",
             "", f"{'lab':<18}{'model':<26}{'params':>11}{'MACs/img':>11}{'batch':>7}{'img/s':>9}{'GMAC/s':>9}{'of peak':>9}"]
    for r in report["models"]:
        lines.append(f"{r['lab']:<18}{r['model']:<26}{r['params']:>11,}{r['mult_adds_per_image'] / 1e6:>10.2f}M"
                     f"{r['batch_size']:>7}{r['images_per_s']:>9.0f}{r['achieved_mult_adds_per_s'] / 1e9:>9.2f}"
                     f"{r['fraction_of_peak']:>9.1%}")
    times = report.get("notebook_wall_times_s") or {}
    if times:
        profiles = sorted({p for t in times.values() for p in t})
        lines += ["", f"{'notebook':<32}" + "".join(f"{p:>10}" for p in profiles)]
        for name, by_profile in sorted(times.items()):
            lines.append(f"{name:<32}" + "".join(
                f"{by_profile[p]:>9.0f}s" if p in by_profile else f"{'-':>10}" for p in profiles))
    else:
        lines.append("\nNo notebook wall times yet: run `make run PROFILE=smoke` and `make run PROFILE=cpu` first.")
    return "\n".join(lines)
