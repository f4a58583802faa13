"""Run profiles: how big each lab trains and what it must reach, per machine class.

``COURSE_PROFILE`` picks one of three profiles:

* ``smoke``: CI on two CPU cores; every notebook in seconds to a minute, still
  asserting clearly-above-chance learning.
* ``cpu``: a student's laptop; each lab in minutes, reaching good accuracies.
* ``gpu``: a GPU runner; reaches the published numbers.

Without ``COURSE_PROFILE`` the default is ``gpu`` when TensorFlow sees a GPU and
``cpu`` otherwise. Every size and threshold a notebook uses lives in ``LABS``
below, never in a notebook cell, so the three profiles stay comparable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Iterator, Mapping

PROFILES: tuple[str, ...] = ("smoke", "cpu", "gpu")

DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        "smoke": "CI smoke run: tiny subsets, seconds per notebook, above-chance targets",
        "cpu": "laptop run: minutes per lab, good accuracies",
        "gpu": "GPU run: full data and schedules, the published numbers",
    }
)

# Per lab, per profile: sizes (subset sizes, epochs, batch size, widths) and the
# pass thresholds the notebook asserts. Keys are the lab's short name.
LABS: Mapping[str, Mapping[str, Mapping[str, Any]]] = MappingProxyType(
    {
        "backprop": {
            "smoke": dict(
                part_a_steps=10_000,
                train_size=10_000,
                hidden=100,
                epochs=3,
                batch_size=64,
                learning_rate=0.1,
                lr_decay=0.9,
                min_numpy_accuracy=0.85,
                min_keras_accuracy=0.85,
            ),
            "cpu": dict(
                part_a_steps=10_000,
                train_size=55_000,
                hidden=256,
                epochs=15,
                batch_size=64,
                learning_rate=0.2,
                lr_decay=0.9,
                min_numpy_accuracy=0.97,
                min_keras_accuracy=0.97,
            ),
            "gpu": dict(
                part_a_steps=10_000,
                train_size=55_000,
                hidden=512,
                epochs=20,
                batch_size=64,
                learning_rate=0.2,
                lr_decay=0.9,
                min_numpy_accuracy=0.98,
                min_keras_accuracy=0.98,
            ),
        },
        # Each later lab adds its block here: "name": {"smoke": {...}, "cpu": {...}, "gpu": {...}},
        # with the same keys in all three profiles (tests/test_profiles.py checks it).
    }
)


class ProfileError(ValueError):
    """An unknown profile or lab name."""


@dataclass(frozen=True)
class LabConfig:
    """The sizes and thresholds of one lab in one profile, read as attributes."""

    lab: str
    profile: str
    values: Mapping[str, Any] = field(repr=False)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "values")
        if name in values:
            return values[name]
        raise AttributeError(
            f"Lab '{self.lab}' has no setting '{name}' in profile '{self.profile}'; "
            f"it has: {', '.join(sorted(values))}."
        )

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self.values.items())

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dictionary."""
        return dict(self.values)

    def __str__(self) -> str:
        width = max(len(k) for k in self.values)
        rows = [f"  {k:<{width}}  {v}" for k, v in self.values.items()]
        return f"Lab '{self.lab}' in profile '{self.profile}':\n" + "\n".join(rows)


@dataclass(frozen=True)
class Profile:
    """The active run profile: its name, why it was chosen, and per-lab settings."""

    name: str
    reason: str

    @property
    def description(self) -> str:
        """One line saying what the profile is for."""
        return DESCRIPTIONS[self.name]

    def lab(self, lab: str) -> LabConfig:
        """Return the settings of ``lab`` in this profile."""
        if lab not in LABS:
            raise ProfileError(f"Unknown lab '{lab}'; known labs: {', '.join(LABS)}.")
        return LabConfig(lab=lab, profile=self.name, values=MappingProxyType(dict(LABS[lab][self.name])))

    def __str__(self) -> str:
        return f"Profile: {self.name} ({self.reason}) - {self.description}"


def gpu_visible() -> bool:
    """Return True when TensorFlow sees at least one GPU."""
    import tensorflow as tf  # imported here: TensorFlow is slow to import

    return bool(tf.config.list_physical_devices("GPU"))


def get_profile(name: str | None = None) -> Profile:
    """Return the profile named, else ``$COURSE_PROFILE``, else gpu/cpu by hardware."""
    if name is None:
        name = os.environ.get("COURSE_PROFILE", "").strip().lower() or None
        reason = "from COURSE_PROFILE" if name else ""
    else:
        name, reason = name.strip().lower(), "chosen explicitly"
    if name is None:
        name = "gpu" if gpu_visible() else "cpu"
        reason = "default: a GPU is visible" if name == "gpu" else "default: no GPU visible"
    if name not in PROFILES:
        raise ProfileError(
            f"Unknown profile '{name}': set COURSE_PROFILE to one of {', '.join(PROFILES)}."
        )
    return Profile(name=name, reason=reason)


def lab_config(lab: str, profile: str | None = None) -> LabConfig:
    """Print the active profile and return the settings of ``lab`` in it."""
    active = get_profile(profile)
    config = active.lab(lab)
    print(active)
    print(config)
    return config
