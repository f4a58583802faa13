"""Exercise checks, one module per lab, each split into a probe and a judge.

A check cell in a lab is one line, e.g. ``exercises.convolution.check_conv_forward(conv_forward_naive)``.
Each check is a :class:`~utils.exercises.framework.Check`:

* its **probe** calls the student's functions on inputs it builds itself and returns plain data (numbers, strings,
  shapes, NumPy arrays, and lists, tuples and dicts of them; a crash becomes a record of what was raised);
* its **judge** rebuilds the same inputs, computes the reference (TensorFlow/Keras built-ins, numeric gradients or
  stated facts, never the solutions' code), compares, and returns one sentence.

A notebook runs both in one call. The grader can run the probe in the student's process and the judge outside it.
Checks share no state with each other or with the notebook, so their verdicts do not depend on cell order.

Modules: ``backprop`` (Lab 1), ``convolution`` (Lab 2), ``init_batchnorm`` (Lab 3), ``architectures`` (Lab 4),
``transfer`` (Lab 5), ``autoencoder`` (Lab 6), ``siamese`` (Lab 7); ``framework`` holds the machinery and
``models`` describes Keras models as plain data.
"""

from __future__ import annotations

import importlib
from types import ModuleType

LABS = {
    "backprop": "01",
    "convolution": "02",
    "init_batchnorm": "03",
    "architectures": "04",
    "transfer": "05",
    "autoencoder": "06",
    "siamese": "07",
}

__all__ = sorted(LABS) + ["framework", "models"]


def __getattr__(name: str) -> ModuleType:
    """Import a lab's check module on first use, so importing the package stays cheap."""
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
