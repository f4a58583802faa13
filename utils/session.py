"""Notebook session set-up: quiet logs, seeds, one-sentence feedback and the active profile."""

from __future__ import annotations

import logging
import os
import random
import warnings

import numpy as np

from utils import checks
from utils.profiles import LabConfig, get_profile


def quiet_logs() -> None:
    """Silence TensorFlow's start-up noise and absl/tfds warnings (call before importing TF)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # Keras 3 warns on every fit() with a tf.data.Dataset, which the course shuffles itself.
    warnings.filterwarnings("ignore", message="`shuffle=True` was passed, but will be ignored")
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


def seed_everything(seed: int = 0, deterministic: bool = True) -> None:
    """Seed Python, NumPy, TensorFlow and Keras; make TF ops deterministic when asked."""
    os.environ["PYTHONHASHSEED"] = str(seed)  # for subprocesses; this one is already hashed
    random.seed(seed)
    np.random.seed(seed)
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)  # python, numpy and the backend together
    if deterministic:
        tf.config.experimental.enable_op_determinism()


def start_lab(lab: str, seed: int = 0) -> LabConfig:
    """Set up a notebook: quiet logs, seed everything, install feedback, print the profile."""
    quiet_logs()
    seed_everything(seed)
    checks.install_feedback()
    profile = get_profile()
    config = profile.lab(lab)
    print(profile)
    print(config)
    print(f"Seed: {seed}")
    return config
