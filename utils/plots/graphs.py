"""Diagrams for Lab 1: computational graphs and the chain rule, drawn with matplotlib (generated, not pasted)."""

from __future__ import annotations
