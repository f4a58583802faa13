"""Shared helpers for the convolutional-networks course.

Modules: ``data`` (datasets and input pipelines), ``plots`` (figures),
``checks`` (feedback for exercise check cells), ``course`` (the repository,
version and Colab set-up), ``profiles`` (sizes and targets per machine class),
``session`` (notebook set-up), ``labs`` (generating student labs from
solutions), ``runner`` (headless execution) and ``cli`` (``python -m utils``).
Importing ``utils`` is cheap: TensorFlow is imported only
by the functions that need it.
"""

from utils.course import version as _version
from utils.profiles import get_profile, lab_config
from utils.session import seed_everything, start_lab

__all__ = ["get_profile", "lab_config", "seed_everything", "start_lab"]
__version__ = _version()
