"""Diagrams for Lab 2: padding, strides, a sliding window, pooling and im2col, drawn with matplotlib."""

from __future__ import annotations
